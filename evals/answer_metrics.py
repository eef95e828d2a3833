"""HotpotQA answer metrics, exactly as the official ``hotpot_evaluate_v1.py`` (hotpotqa/hotpot) computes
them, plus a question-type heuristic for the IRCoT-format sample, which carries no ``type`` field.

- ``normalize_answer``: lower-case, drop ASCII punctuation, drop the articles a/an/the, collapse spaces.
- ``exact_match``: the normalised strings are equal.
- ``f1_score``: token F1 of the normalised strings (tokens counted with multiplicity); when either side
  normalises to "yes", "no" or "noanswer" and the two differ, F1 is 0 (the official special case, so
  "no" vs "no way" scores 0 rather than 0.67).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_SPECIAL = ("yes", "no", "noanswer")
_ALTERNATIVES = re.compile(r"\bor\b", re.IGNORECASE)


def normalize_answer(text: str) -> str:
    lowered = text.lower()
    without_punctuation = "".join(ch for ch in lowered if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", without_punctuation).split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction: str, gold: str) -> tuple[float, float, float]:
    """(F1, precision, recall) of the prediction's tokens against the gold answer's."""
    pred, truth = normalize_answer(prediction), normalize_answer(gold)
    if (pred in _SPECIAL or truth in _SPECIAL) and pred != truth:
        return 0.0, 0.0, 0.0
    pred_tokens, truth_tokens = pred.split(), truth.split()
    same = sum((Counter(pred_tokens) & Counter(truth_tokens)).values())
    if same == 0:
        return 0.0, 0.0, 0.0
    precision, recall = same / len(pred_tokens), same / len(truth_tokens)
    return 2 * precision * recall / (precision + recall), precision, recall


def question_type(question: str, answer: str) -> str:
    """ "comparison" or "bridge" — a HEURISTIC, not HotpotQA's own label (the IRCoT file dropped ``type``).

    Comparison when the gold answer is yes/no (HotpotQA's yes/no questions are all comparisons) or when
    the question offers alternatives joined by "or" ("Who is older, Annie Morton or Terry Richardson?");
    bridge otherwise. On the 500-question file it labels 204 comparison (80 yes/no + 124 "or"); reading
    the "or" questions by hand found about 2 that are really bridge questions ("... during Oranjegekte or
    to celebrate ..."). Comparison questions without "or" or a yes/no answer are counted as bridge.
    """
    if normalize_answer(answer) in ("yes", "no"):
        return "comparison"
    return "comparison" if _ALTERNATIVES.search(question) else "bridge"


@dataclass(frozen=True)
class AnswerScore:
    qtype: str
    em: float
    f1: float


def summarise_answers(scores: Iterable[AnswerScore]) -> dict[str, dict[str, float]]:
    """Mean EM and F1 overall and per question type, with the count of questions behind each."""
    scores = list(scores)
    groups = {"overall": scores}
    for qtype in sorted({s.qtype for s in scores}):
        groups[qtype] = [s for s in scores if s.qtype == qtype]
    return {
        name: {
            "em": round(sum(s.em for s in group) / len(group), 4),
            "f1": round(sum(s.f1 for s in group) / len(group), 4),
            "questions": len(group),
        }
        for name, group in groups.items()
        if group
    }
