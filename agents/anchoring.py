"""Anchoring a written claim to the exact words of its source.

Every claim the writer keeps is tied to the sentence (or two adjacent sentences) of a cited passage that
carries most of its content terms: the claim's ``quote``, as character offsets into that passage, so a
citation resolves to the exact place it came from. A small model paraphrases loosely ("the 2022 final"
for "the final of the 2022 tournament", a date moved into another clause), and a loose paraphrase is a
wrong citation to a reader who checks. So a claim in the model's own words is kept only when its quote
holds every one of its content terms and numbers, mostly in the claim's order (and it keeps only the
citations that hold them all): "B acquired A" has every word of "A acquired B" and says the opposite. A
claim carried out of order, or only partly (at least ``min_share`` of its terms, and every number it
states), is replaced by the quote itself, which is what the passage states; any other claim is left as
written, for the verifier's grounding rule to reject (agents/grounding.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sleuth.agents.grounding import stated_numbers
from sleuth.agents.textmatch import content_terms, split_sentences

MAX_QUOTE_CHARS = 400  # two sentences longer than this are not a quote to check at a glance
MIN_PAIRS_IN_ORDER = 0.6  # share of the claim's adjacent term pairs its quote must hold in that order,
MAX_PAIR_GAP = 3  # at most this many terms apart: an inserted adjective is fine, a re-assembled fact is not


@dataclass(frozen=True)
class Anchor:
    """Where a claim's words are: ``text`` is ``passage[start:end]`` of chunk ``chunk_id``."""

    chunk_id: str
    start: int
    end: int
    text: str
    share: float  # share of the claim's distinct content terms (and numbers) found in the window

    def record(self) -> dict[str, Any]:
        return {"chunk_id": self.chunk_id, "start": self.start, "end": self.end}


def _terms(text: str) -> set[str]:
    return set(content_terms(text)) | set(stated_numbers(text))


def _windows(text: str) -> Iterable[tuple[int, int, set[str]]]:
    """(start, end, terms) of each sentence and of each short pair of adjacent ones. Each sentence's
    terms are found once: a pair's are its two sentences' and the gap's (no word spans a boundary)."""
    sentences = split_sentences(text)
    terms = [_terms(text[s.start : s.end]) for s in sentences]
    for i, s in enumerate(sentences):
        yield s.start, s.end, terms[i]
        if i + 1 < len(sentences) and sentences[i + 1].end - s.start <= MAX_QUOTE_CHARS:
            gap = _terms(text[s.end : sentences[i + 1].start])
            yield s.start, sentences[i + 1].end, terms[i] | gap | terms[i + 1]


def in_order_share(claim: str, window: str) -> float:
    """Share of the claim's adjacent (distinct) content-term pairs that the window holds in the same
    order, at most ``MAX_PAIR_GAP`` terms apart; 1.0 for a claim of one term."""
    wanted = content_terms(claim)
    pairs = [(a, b) for a, b in zip(wanted, wanted[1:], strict=False) if a != b]
    if not pairs:
        return 1.0
    where: dict[str, list[int]] = {}
    for i, term in enumerate(content_terms(window)):
        where.setdefault(term, []).append(i)
    held = sum(
        any(0 < j - i <= MAX_PAIR_GAP for i in where.get(a, ()) for j in where.get(b, ())) for a, b in pairs
    )
    return held / len(pairs)


def _best_windows(claim: str, passages: Mapping[str, str]) -> dict[str, Anchor]:
    """Each cited passage's window (chunk id -> text) that holds the largest share of the claim's content
    terms; the shorter window on a tie, so a one-sentence quote beats two. Empty without terms."""
    wanted = _terms(claim)
    if not wanted:
        return {}
    best: dict[str, Anchor] = {}
    for chunk_id, text in passages.items():
        top: tuple[float, int, int, int] | None = None
        for start, end, found in _windows(text):
            key = (len(wanted & found) / len(wanted), -(end - start), start, end)
            if top is None or key[:2] > top[:2]:
                top = key
        if top is not None:
            share, _, start, end = top
            window = " ".join(text[start:end].replace("**", "").replace("`", "").split())
            best[chunk_id] = Anchor(chunk_id, start, end, window, share)
    return best


def _anchor_of(best: Mapping[str, Anchor]) -> Anchor | None:
    """The best of the passages' windows; the first cited passage's on a tie."""
    top: Anchor | None = None
    for anchor in best.values():
        if top is None or (anchor.share, anchor.start - anchor.end) > (top.share, top.start - top.end):
            top = anchor
    return top


def find_anchor(claim: str, passages: Mapping[str, str]) -> Anchor | None:
    """The window of the cited passages (chunk id -> text) that holds the largest share of the claim's
    content terms; the shorter window on a tie, so a one-sentence quote beats two. None without terms."""
    return _anchor_of(_best_windows(claim, passages))


def _carrying_citations(
    claim: Mapping[str, Any], best: Mapping[str, Anchor], found: Anchor
) -> dict[str, Any]:
    """A claim its quote carries whole keeps only the citations that carry it whole as well: a reader
    who follows [2] finds the claim there, not a neighbouring fact. The rest are listed as removed."""
    carrying = [c for c in claim["citations"] if c == found.chunk_id or (c in best and best[c].share >= 1.0)]
    removed = [c for c in claim["citations"] if c not in carrying]
    return {"citations": carrying, "citations_removed": removed} if removed else {}


def anchor_claim(
    claim: Mapping[str, Any], evidence: Mapping[str, Mapping[str, Any]], min_share: float
) -> dict[str, Any]:
    """The claim with its ``quote`` (offsets into the anchoring passage), reworded to the quote when the
    model's words go beyond it or reorder it (``quoted`` True, citing only the passage that carries it); a claim kept
    in the model's words cites only passages that hold all of it."""
    passages = {c: str(evidence[c]["text"]) for c in claim["citations"] if c in evidence}
    best = _best_windows(claim["text"], passages)
    found = _anchor_of(best)
    if found is None or found.share < min_share:
        return {**claim, "quote": None, "quoted": False}
    if set(stated_numbers(claim["text"])) - set(stated_numbers(found.text)):
        # "won in 2022" anchored to "won in 2018": quoting would answer another question; left to the
        # grounding rule, which rejects a number its passages do not state
        return {**claim, "quote": found.record(), "quoted": False}
    quoted_window = passages[found.chunk_id][found.start : found.end]
    if found.share >= 1.0 and in_order_share(claim["text"], quoted_window) >= MIN_PAIRS_IN_ORDER:
        return {
            **claim,
            **_carrying_citations(claim, best, found),
            "quote": found.record(),
            "quoted": False,
        }
    return {
        **claim,
        "text": found.text,
        "citations": [found.chunk_id],
        "quote": found.record(),
        "quoted": True,
        "drafted": claim["text"],
    }
