"""Citation judges for the report evals, independent of the research graph's verifier node.

Does a claim's cited passage support it? Two judges answer with ``Judgement(supported, reason)``:

``LexicalJudge`` (no model; rule "lexical.v1"). Text is lower-cased and split into words, with NO
stemming ("improved" does not match "improves") and "n't" read as "not". A claim's content words are its
words minus a short function-word list and the negation cues. A claim is supported when ONE cited
passage has a window (one sentence, or two adjacent ones; sentences end at . ! ? but not after an
initial or a common abbreviation: "Edwin L. Marin", "Mr. Angel") where
  1. at least 80% of the claim's distinct content words occur verbatim,
  2. at least 60% of the claim's consecutive content-word pairs occur in the same order, at most 3
     content words apart (so inserted adjectives are fine, scrambled or re-assembled facts are not), and
  3. negation polarity agrees: the window has a negation cue exactly when the claim has one.
Facts spread over two passages do not count: a citation must carry the claim by itself. It is strict
about paraphrase (a reworded claim is judged unsupported), so it is a lower bound for abstractive writers
and fits extractive ones. The verifier node's offline rule (stemmed content-term containment over the
whole passage) is deliberately not reused.

``LLMJudge`` asks the configured OpenAI-compatible model (task "judge", ``evals/prompts/judge.v1.md``).
``LLMAnswerExtractor`` asks it for a short answer from the report's claims alone (task "answer"), for
HotpotQA EM/F1. Both render their prompts here: ``prompts.load_prompt`` reads only the app's prompts/.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, Field

from sleuth.agents.budget import Ledger
from sleuth.agents.structured import call_structured
from sleuth.prompts import Prompt
from sleuth.tools.errors import OutputInvalid
from sleuth.tools.llm import ChatModel
from sleuth.wiring import limits_from_settings

T = TypeVar("T", bound=BaseModel)
EVAL_PROMPT_DIR = Path(__file__).resolve().parent / "prompts"

UNMETERED = replace(
    limits_from_settings(), max_llm_calls=sys.maxsize, max_tokens=sys.maxsize, max_wall_s=math.inf
)
MIN_WORD_RECALL = 0.8
MIN_ORDERED_PAIRS = 0.6
MAX_PAIR_GAP = 3


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


FUNCTION_WORDS = _wordset(
    """
    a an the of in on at to for by with from into onto and or but as is are was were be been being am
    do does did has have had that this these those it its which who whom whose than then there their
    they them he she his her we our you your i also can could may might will would should shall s
    """
)
NEGATION_CUES = _wordset("not no never none nor neither without cannot")
_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
# A piece ending like this did not end a sentence: an initial ("Edwin L. Marin") or an abbreviation.
_NOT_AN_END = re.compile(r"(?:\b[A-Z]|\b(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|Prof|Gen|No|vs|etc|al|e\.g|i\.e|approx))\.$")


@dataclass(frozen=True)
class Judgement:
    supported: bool
    reason: str


class CitationJudge(Protocol):
    name: str

    def judge(self, claim: str, passages: Sequence[str]) -> Judgement: ...


def tokens(text: str) -> list[str]:
    return _WORD.findall(re.sub(r"n't\b", " not", text.lower()))


def content_words(words: list[str]) -> list[str]:
    return [w for w in words if w not in FUNCTION_WORDS and w not in NEGATION_CUES]


def split_sentences(passage: str) -> list[str]:
    """Sentences at . ! ? before a capital, digit, quote or bracket, not after an initial or abbreviation."""
    found: list[str] = []
    for piece in _SENTENCE_END.split(passage.strip()):
        if found and _NOT_AN_END.search(found[-1]):
            found[-1] = f"{found[-1]} {piece}"
        elif piece.strip():
            found.append(piece)
    return found or [passage]


def windows(passage: str) -> list[str]:
    """Each sentence of the passage and each pair of adjacent sentences."""
    sentences = split_sentences(passage)
    return sentences + [f"{a} {b}" for a, b in zip(sentences, sentences[1:], strict=False)]


def ordered_pair_share(claim: list[str], window: list[str]) -> float:
    pairs = [(a, b) for a, b in zip(claim, claim[1:], strict=False) if a != b]
    if not pairs:
        return 1.0
    where: dict[str, list[int]] = {}
    for i, word in enumerate(window):
        where.setdefault(word, []).append(i)
    found = sum(
        any(0 < j - i <= MAX_PAIR_GAP for i in where.get(a, []) for j in where.get(b, [])) for a, b in pairs
    )
    return found / len(pairs)


@dataclass
class LexicalJudge:
    name: str = "lexical.v1"

    def judge(self, claim: str, passages: Sequence[str]) -> Judgement:
        claim_words = tokens(claim)
        wanted = content_words(claim_words)
        if not wanted or not passages:
            return Judgement(False, "the claim has no content words" if passages else "it cites no passage")
        negated = bool(NEGATION_CUES.intersection(claim_words))
        best = (0.0, 0.0, "no window shares its words")
        for window in (w for p in passages for w in windows(p)):
            window_words = tokens(window)
            seen = content_words(window_words)
            recall = len(set(wanted) & set(seen)) / len(set(wanted))
            order = ordered_pair_share(wanted, seen)
            if recall < MIN_WORD_RECALL or order < MIN_ORDERED_PAIRS:
                best = max(
                    best, (recall, order, f"best window has {recall:.0%} of its words, {order:.0%} in order")
                )
                continue
            if bool(NEGATION_CUES.intersection(window_words)) != negated:
                best = max(best, (1.0, 1.0, f"negation differs from the cited text: {window[:160]!r}"))
                continue
            return Judgement(
                True, f"{recall:.0%} of its words, {order:.0%} of word pairs in order, in one window"
            )
        return Judgement(False, best[2])


class JudgeOutput(BaseModel):
    supported: bool = Field(description="true only if the cited passages state everything the claim says")
    reason: str = ""


class AnswerOutput(BaseModel):
    answer: str = Field(description='the shortest answer span, "yes"/"no", or "noanswer"')


@lru_cache(maxsize=16)
def load_eval_prompt(name: str) -> Prompt:
    """The latest ``evals/prompts/<name>.vN.md``."""
    found = sorted(
        (int(m["v"]), p)
        for p in EVAL_PROMPT_DIR.glob(f"{name}.v*.md")
        if (m := re.search(r"\.v(?P<v>\d+)\.md$", p.name))
    )
    if not found:
        raise KeyError(f"no eval prompt named {name!r} in {EVAL_PROMPT_DIR}")
    version, path = found[-1]
    return Prompt(id=f"{name}@v{version}", text=path.read_text(encoding="utf-8").strip())


def call_eval_task(
    model: ChatModel, usage: list[dict[str, Any]], *, task: str, inputs: dict[str, Any], schema: type[T]
) -> T:
    """sleuth.agents.structured.call_structured (one repair re-ask) with the eval's own prompt and outside any
    research budget; every call's record is appended to ``usage``, a failed one's too. Raises
    OutputInvalid when the repair fails too."""
    try:
        result = call_structured(
            model, Ledger(UNMETERED), task=task, inputs=inputs, schema=schema, prompt=load_eval_prompt(task)
        )
    except OutputInvalid as e:
        usage += getattr(e, "usage", [])
        raise
    usage += result.usage
    return result.value


def _quoted(texts: Sequence[str], prefix: str) -> list[dict[str, str]]:
    """Items that agents.structured sends between <evidence> tags (quoted data, not instructions)."""
    return [{"ref": f"{prefix}{i}", "title": "", "text": text} for i, text in enumerate(texts, 1)]


@dataclass
class LLMJudge:
    model: ChatModel
    usage: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"llm:{self.model.name} ({load_eval_prompt('judge').id})"

    def judge(self, claim: str, passages: Sequence[str]) -> Judgement:
        if not passages:
            return Judgement(False, "it cites no passage")
        inputs = {"claim": claim, "cited_passages": _quoted(passages, "E")}
        verdict = call_eval_task(self.model, self.usage, task="judge", inputs=inputs, schema=JudgeOutput)
        return Judgement(verdict.supported, verdict.reason)


@dataclass
class LLMAnswerExtractor:
    model: ChatModel
    usage: list[dict[str, Any]] = field(default_factory=list)

    def answer(self, question: str, claims: Sequence[str]) -> str:
        """The model's short answer from the claims alone; "" without asking when there are none."""
        if not claims:
            return ""
        inputs = {"question": question, "claims": _quoted(claims, "C")}
        return call_eval_task(
            self.model, self.usage, task="answer", inputs=inputs, schema=AnswerOutput
        ).answer
