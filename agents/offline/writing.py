"""Extractive writing and lexical verification for the offline engine.

Writing: each section's claims are sentences quoted from its evidence, scored by idf-weighted overlap
with the section question (the sentence's own words count fully; its document title and nearest
heading count half, so "## Weaknesses" context helps a question about weaknesses), picked with MMR so
near-duplicates (chunk overlaps, repeated facts) are skipped, and ordered by passage then position.
Verification: a claim is supported when enough of its content terms occur in a cited passage;
a negation mismatch with the best-matching sentence, or an opposite direction ("increases" against
"reduces"), marks it contradicted; uncited passages that say nearly the same thing with the opposite
polarity or direction are reported as conflicts. On SciFact train claims against their gold abstract,
the direction rule finds 21% of the contradictions instead of 13%, with no more false alarms (3%).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sleuth.agents.injection import looks_like_instructions
from sleuth.agents.textmatch import (
    ASPECT_WORDS,
    containment,
    content_terms,
    has_negation,
    opposite_direction,
    split_sentences,
    stem,
)

MAX_CLAIMS = 5
MIN_WORDS, MAX_WORDS = 7, 70
MIN_RELEVANCE = 0.3
# relevance is measured against the question's 4 most telling terms (chosen on SciFact train: claims for 98%
# of gold-gathered claims, against 88% when measured against all terms)
TOPIC_TERMS = 4
MMR_LAMBDA = 0.7
DUPLICATE_SIMILARITY = 0.6
CONFLICT_CONTAINMENT = 0.75
_WEAK_OPENERS = re.compile(r"^(it|this|these|they|that|those|such|he|she|there)\b", re.I)
_COMPARISON = re.compile(r"^how\s+do\s+(?P<items>.+?)\s+compare\b", re.I)
_CONTRAST_CUES = {
    "wherea",
    "while",
    "unlik",
    "compar",
    "than",
    "better",
    "wors",
    "instead",
    "contrast",
    "complement",
}
_COMPLETE = re.compile(r"^[\"'(\[]?[A-Z0-9].*[.!?][\"')\]]?$", re.S)
_HEADING = re.compile(r"^#{1,6}\s+(.*)$", re.M)


@dataclass(frozen=True)
class Candidate:
    ref: str
    passage_rank: int
    position: int
    text: str
    terms: frozenset[str]
    context: frozenset[str]  # title and nearest heading terms


def is_quotable(sentence: str) -> bool:
    """A complete prose sentence of reasonable length: no fragment cut at a chunk edge, no formula, and
    nothing addressed to an AI or the reader (agents/injection.py)."""
    tokens = sentence.split()
    if not MIN_WORDS <= len(tokens) <= MAX_WORDS or "=" in sentence:
        return False
    if not _COMPLETE.match(sentence):
        return False
    alphabetic = sum(1 for t in tokens if any(ch.isalpha() for ch in t))
    return alphabetic / len(tokens) >= 0.75 and not looks_like_instructions(sentence)


def _heading_before(text: str, offset: int) -> str:
    headings = [m.group(1) for m in _HEADING.finditer(text) if m.start() < offset]
    return headings[-1] if headings else ""


def candidates(evidence: list[dict[str, Any]]) -> list[Candidate]:
    out = []
    for rank, item in enumerate(evidence):
        for sentence in split_sentences(item["text"]):
            if is_quotable(sentence.text):
                context = f"{item.get('title', '')} {_heading_before(item['text'], sentence.start)}"
                out.append(
                    Candidate(
                        item["ref"],
                        rank,
                        sentence.start,
                        sentence.text,
                        frozenset(content_terms(sentence.text)),
                        frozenset(content_terms(context)),
                    )
                )
    return out


def _similarity(a: Candidate, b: Candidate) -> float:
    union = a.terms | b.terms
    return len(a.terms & b.terms) / len(union) if union else 0.0


_ASPECTS = frozenset(stem(w) for w in ASPECT_WORDS)


def _relevance(cand: Candidate, weights: dict[str, float], groups: list[set[str]]) -> float:
    """Share of the question's topic weight the sentence carries (aspect words such as "weaknesses"
    only add a small bonus: they say which facts are wanted, not what the facts are about)."""
    topic = {t: w for t, w in weights.items() if t not in _ASPECTS} or weights
    # a long statement names more than any one sentence can: measure against its most telling terms
    total = sum(sorted(topic.values(), reverse=True)[:TOPIC_TERMS]) or 1.0
    own = sum(w for t, w in topic.items() if t in cand.terms)
    context = sum(w for t, w in topic.items() if t in cand.context and t not in cand.terms)
    aspects = sum(1 for t in weights if t in _ASPECTS and t in cand.terms | cand.context)
    score = (own + 0.5 * context) / total + 0.1 * min(aspects, 2)
    score *= 0.6 if _WEAK_OPENERS.match(cand.text) else 1.0
    score *= 1.0 / (1.0 + 0.05 * cand.passage_rank)
    if groups:  # a comparison section: reward sentences that talk about several compared items
        mentioned = sum(1 for g in groups if g & cand.terms)
        contrast = (
            0.2
            if cand.terms & _CONTRAST_CUES or any(t.startswith(tuple(_CONTRAST_CUES)) for t in cand.terms)
            else 0.0
        )
        score = score * (0.5 + 0.5 * mentioned) + contrast if mentioned >= 2 else score * 0.3
    return score


def _question_weights(question: str, pool: list[Candidate]) -> dict[str, float]:
    terms = set(content_terms(question, drop_question_words=True))
    df = Counter(t for c in pool for t in c.terms | c.context if t in terms)
    n = len(pool) or 1
    return {t: math.log(1 + n / (1 + df[t])) + 0.1 for t in terms}


def select(pool: list[Candidate], question: str, used: set[str]) -> list[Candidate]:
    """MMR selection of up to MAX_CLAIMS relevant, mutually non-redundant sentences."""
    match = _COMPARISON.match(question)
    groups = (
        [set(content_terms(item)) for item in re.split(r"\s+and\s+|,\s*", match["items"])] if match else []
    )
    weights = _question_weights(question, pool)
    scored = [(c, _relevance(c, weights, groups)) for c in pool if c.text.lower() not in used]
    scored = [(c, s) for c, s in scored if s >= MIN_RELEVANCE]
    chosen: list[Candidate] = []
    while scored and len(chosen) < MAX_CLAIMS:

        def mmr(item: tuple[Candidate, float]) -> float:
            redundancy = max((_similarity(item[0], c) for c in chosen), default=0.0)
            return MMR_LAMBDA * item[1] - (1 - MMR_LAMBDA) * redundancy

        best = max(scored, key=mmr)
        scored.remove(best)
        if all(_similarity(best[0], c) < DUPLICATE_SIMILARITY for c in chosen):
            chosen.append(best[0])
    return sorted(chosen, key=lambda c: (c.passage_rank, c.position))


def write_sections(inputs: dict[str, Any]) -> dict[str, Any]:
    used: set[str] = set()  # a sentence quoted in one section is not repeated in another
    sections = []
    for section in inputs.get("sections", []):
        chosen = select(candidates(section.get("evidence", [])), section["question"], used)
        used.update(c.text.lower() for c in chosen)
        sections.append(
            {"id": section["id"], "claims": [{"text": c.text, "citations": [c.ref]} for c in chosen]}
        )
    return {"sections": sections}


def _restates(claim: str, sentence: str) -> bool:
    """The sentence says nearly the same thing as the claim (overlap both ways)."""
    return containment(claim, sentence) >= CONFLICT_CONTAINMENT and containment(sentence, claim) >= 0.6


def _opposite(claim: str, sentence: str) -> bool:
    """Opposite polarity (one is negated) or opposite direction (one goes up, the other down)."""
    return has_negation(claim) != has_negation(sentence) or opposite_direction(claim, sentence)


def _verdict(claim: dict[str, Any], evidence: dict[str, dict[str, Any]], threshold: float) -> dict[str, Any]:
    cited = [evidence[r] for r in claim.get("citations", []) if r in evidence]
    verdict = {"claim_id": claim["claim_id"], "verdict": "unsupported", "conflicting_refs": []}
    if not cited:
        return {**verdict, "reason": "it cites no passage that was retrieved"}
    support = max(containment(claim["text"], p["text"]) for p in cited)
    sentences = [s.text for p in cited for s in split_sentences(p["text"])] or [p["text"] for p in cited]
    closest = max(sentences, key=lambda s: containment(claim["text"], s))
    if support < threshold:
        return {**verdict, "reason": f"only {support:.0%} of its content words appear in the cited passages"}
    if _opposite(claim["text"], closest) and containment(claim["text"], closest) >= 0.5:
        return {
            **verdict,
            "verdict": "contradicted",
            "reason": f"the cited passage says, with opposite polarity or direction: {closest!r}",
        }
    conflicts = [
        ref
        for ref, p in evidence.items()
        if p not in cited
        and any(
            _restates(claim["text"], s.text) and _opposite(claim["text"], s.text)
            for s in split_sentences(p["text"])
        )
    ]
    reason = f"{support:.0%} of its content words appear in the cited passage"
    return {**verdict, "verdict": "supported", "reason": reason, "conflicting_refs": conflicts}


def verify_claims(inputs: dict[str, Any], threshold: float) -> dict[str, Any]:
    evidence = {e["ref"]: e for e in inputs.get("evidence", [])}
    return {"verdicts": [_verdict(claim, evidence, threshold) for claim in inputs.get("claims", [])]}
