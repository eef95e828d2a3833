"""The offline engine: a deterministic ``ChatModel`` with no model behind it.

It reads each request as a server would, from the rendered messages (``agents.structured.read_inputs``),
and computes the task's answer by rules, returning JSON text in the shape the task's schema asks for, so
the agents stay engine-agnostic. Its own thresholds (``OfflineRules``) are given when it is built and
never travel in a prompt:

- planner: rule-based decomposition (comparisons into one sub-question per item plus a comparison;
  compound questions split on ";", "?" and clause-level "and"/"but");
- decide: enough on-topic passages covering the sub-question's terms (and the missing facts) => no retrieval;
- rewriter: the question, its keywords, keyword variants, targeted queries for missing facts,
  pseudo-relevance feedback (terms shared by the feedback passages), and bridge entities for a second
  hop (names the feedback passages mention that the question does not);
- writer / verifier: extractive writing and lexical verification (agents/offline/writing.py).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sleuth.agents.offline.writing import verify_claims, write_sections
from sleuth.agents.structured import read_inputs
from sleuth.agents.textmatch import ASPECT_WORDS, content_terms, coverage, keywords, named_entities, stem
from sleuth.tools.errors import ModelError
from sleuth.tools.llm import ChatRequest, ChatResponse, Usage

OFFLINE_ENGINE_NAME = "offline"


@dataclass(frozen=True)
class OfflineRules:
    """The offline engine's thresholds (from the research limits, so from Settings)."""

    sufficient_passages: int  # the decision skips retrieval with this many on-topic passages...
    sufficient_coverage: float  # ...that together mention this share of the sub-question's terms
    support_threshold: float  # the verifier: share of a claim's terms found in the cited passage


_COMPARISONS = [
    re.compile(r"^(?:what(?:'s| is| are)\s+)?(?:the\s+)?differences?\s+between\s+(?P<items>.+)$", re.I),
    re.compile(r"^(?:compare|contrast)\s+(?P<items>.+)$", re.I),
    re.compile(
        r"^how\s+(?:does|do|is|are)\s+(?P<a>.+?)\s+compare[sd]?\s+(?:to|with|against)\s+(?P<b>.+)$", re.I
    ),
    re.compile(r"^(?:should\s+i\s+use|which\s+is\s+better[,:]?)\s+(?P<items>.+\s+or\s+.+)$", re.I),
    re.compile(r"^(?P<items>.+?\s+(?:vs\.?|versus)\s+.+)$", re.I),
]
_ITEM_SPLIT = re.compile(
    r"\s*(?:,\s*(?:and\s+|or\s+)?|\s+and\s+|\s+or\s+|\s+vs\.?\s+|\s+versus\s+|\s+with\s+|\s+to\s+)\s*", re.I
)
_QUALIFIER = re.compile(r"\s+(?P<q>(?:for|in|on|when|at)\s+.+)$", re.I)
_CLAUSE_START = r"(?:how|what|why|when|where|which|who|whose|does|do|did|is|are|can|could|should|would|will)"
_CLAUSE_SPLIT = re.compile(rf"\s*(?:;|\?\s+|,?\s+(?:and|but)\s+(?={_CLAUSE_START}\b))\s*", re.I)
_PRONOUN = re.compile(r"\b(it|they|them|this|its|their)\b", re.I)


def _sentence(text: str, statement: bool = False) -> str:
    """Capitalised, ending in "?" (or in "." for a statement, which stays one)."""
    text = text.strip(" ?.,;:")
    return f"{text[:1].upper()}{text[1:]}{'.' if statement else '?'}" if text else ""


_REQUEST = rf"(?:{_CLAUSE_START}|define|explain|describe|compare|contrast|list|summari[sz]e|tell|give|show)"


def is_statement(question: str) -> bool:
    """A claim to check ("Vitamin D lowers the risk of hip fractures.") rather than a question: no "?",
    and no clause opens with a question word or a request ("Define X; what is Y")."""
    if "?" in question:
        return False
    clauses = re.split(r"[;:]|,?\s+(?:and|but)\s+", question)
    return not any(re.match(rf"\s*{_REQUEST}\b", clause, re.I) for clause in clauses)


def _comparison_items(question: str) -> tuple[list[str], str] | None:
    """Compared items and a trailing qualifier ("for rare terms"), if the question is a comparison."""
    text = question.strip(" ?.")
    text = re.sub(r"[:,]\s*(?:which|what|how|when)\b.*$", "", text, flags=re.I)  # "X vs Y: which is better?"
    for pattern in _COMPARISONS:
        match = pattern.match(text)
        if not match:
            continue
        raw = [match["a"], match["b"]] if "a" in match.groupdict() else _ITEM_SPLIT.split(match["items"])
        qualifier = ""
        last = _QUALIFIER.search(raw[-1])
        if last:
            qualifier, raw[-1] = " " + last["q"], raw[-1][: last.start()]
        items = [item.strip(" ?.,") for item in raw if item and item.strip(" ?.,")]
        if len(items) >= 2:
            return items, qualifier
    return None


def question_parts(question: str) -> list[str]:
    """The question's parts as sub-questions: one per compared item then how they compare, or one per
    clause (pronouns resolved to the first clause's subject)."""
    compared = _comparison_items(question)
    if compared:
        items, qualifier = compared
        subs = [_sentence(f"What are the strengths and weaknesses of {item}{qualifier}") for item in items]
        return [*subs, _sentence(f"How do {' and '.join(items)} compare{qualifier}")]
    if is_statement(question):
        return [_sentence(question, statement=True)]  # checked whole: a claim is not split in clauses
    parts = [p for p in _CLAUSE_SPLIT.split(question) if len(keywords(p)) >= 1]
    if not parts:
        return [_sentence(question)]
    subject = " ".join(keywords(parts[0], keep_case=True)[:3])
    return [_sentence(parts[0])] + [
        _sentence(_PRONOUN.sub(subject, part, count=1) if subject else part) for part in parts[1:]
    ]


def plan(inputs: dict[str, Any], _rules: OfflineRules) -> dict[str, Any]:
    question, limit = str(inputs["question"]), int(inputs["max_sub_questions"])
    subs = question_parts(question)
    if len(subs) > limit and _comparison_items(question):
        subs = [*subs[: limit - 1], subs[-1]]  # keep the comparison itself
    subs = subs[:limit]
    needs = [f"passages about {', '.join(keywords(s)[:6])}" for s in subs]
    return {"sub_questions": [{"question": s, "needs": n} for s, n in zip(subs, needs, strict=True)]}


def decide(inputs: dict[str, Any], rules: OfflineRules) -> dict[str, Any]:
    question, evidence = str(inputs["sub_question"]), list(inputs.get("evidence", []))
    on_topic = [e for e in evidence if coverage(question, f"{e.get('title', '')}\n{e['text']}") > 0]
    joined = "\n".join(f"{e.get('title', '')}\n{e['text']}" for e in on_topic)
    covered = coverage(question, joined)
    missing = [m for m in inputs.get("missing", []) if coverage(m, joined) < 0.8]
    enough = len(on_topic) >= rules.sufficient_passages and covered >= rules.sufficient_coverage
    if enough and not missing:
        return {
            "retrieve": False,
            "reason": f"{len(on_topic)} on-topic passages cover {covered:.0%} of its terms",
        }
    why = f"{len(missing)} missing facts not covered" if missing else f"{len(on_topic)} on-topic passages"
    return {"retrieve": True, "reason": f"{why}; they cover {covered:.0%} of its terms"}


def feedback_terms(question: str, passages: list[str], n: int = 3) -> list[str]:
    """Pseudo-relevance feedback: frequent words of the feedback passages that the question lacks."""
    asked = set(content_terms(question))
    counts: Counter[str] = Counter()
    surface: dict[str, str] = {}
    for text in passages:
        for word in keywords(text):
            root = stem(word)
            if root not in asked and len(word) > 3 and not word.isdigit():
                counts[root] += 1
                surface.setdefault(root, word)
    ranked = [root for root, count in counts.most_common() if count >= min(2, len(passages))]
    return [surface[root] for root in ranked[:n]]


def rewrite(inputs: dict[str, Any], _rules: OfflineRules) -> dict[str, Any]:
    question = str(inputs["sub_question"])
    words = keywords(question)
    topic = [w for w in words if w not in ASPECT_WORDS]
    queries = [question, " ".join(words)]
    if len(topic) > 2 or len(topic) < len(words):
        queries.append(" ".join(topic[:2]))  # the topic's head terms alone: broader recall
    queries += [" ".join(keywords(missing)[:8]) for missing in inputs.get("missing", [])[:2]]
    feedback = [passage["text"] for passage in inputs.get("feedback", [])]
    expansion = feedback_terms(question, feedback)
    if expansion:
        queries.append(" ".join([*words, *expansion]))
    # best passage first, its names in reading order; agents/bridge.py dedupes and caps the list
    bridges = [name for text in feedback for name in named_entities(text, known=question)]
    return {"queries": [q for q in queries if q.strip()], "bridge_entities": bridges}


def write(inputs: dict[str, Any], _rules: OfflineRules) -> dict[str, Any]:
    return write_sections(inputs)


def verify(inputs: dict[str, Any], rules: OfflineRules) -> dict[str, Any]:
    return verify_claims(inputs, rules.support_threshold)


_TASKS: dict[str, Callable[[dict[str, Any], OfflineRules], dict[str, Any]]] = {
    "planner": plan,
    "decide": decide,
    "rewriter": rewrite,
    "writer": write,
    "verifier": verify,
}


class OfflineEngine:
    """``ChatModel`` that answers every research task by rules, deterministically and for free."""

    name = OFFLINE_ENGINE_NAME

    def __init__(self, rules: OfflineRules) -> None:
        self.rules = rules

    def complete(self, request: ChatRequest) -> ChatResponse:
        handler = _TASKS.get(request.task)
        if handler is None:
            raise ModelError(
                f"the offline engine cannot do the task {request.task!r}; configure an LLM for it"
            )
        try:
            inputs = read_inputs(request.messages)
        except ValueError as e:
            raise ModelError(f"the offline engine cannot read the {request.task} request: {e}") from e
        output = handler(inputs, self.rules)
        return ChatResponse(text=json.dumps(output, ensure_ascii=False), usage=Usage(0, 0), model=self.name)
