"""The last word on support, whatever a model says: a claim passes only when its cited passages contain
what it says. A small model verifying its own claims marks "The 2022 World Cup was won by France",
cited to a note on HNSW, as supported; this rule does not. Lexical on purpose: it cannot be talked
into anything, and paraphrase keeps most content words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sleuth.agents.textmatch import coverage

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def stated_numbers(text: str) -> list[str]:
    """The numbers ``text`` states, in order ("1994", "3.5", "10,000")."""
    return _NUMBER.findall(text)


def grounding_gap(claim: str, cited_texts: Iterable[str], min_coverage: float) -> str | None:
    """Why the cited passages do not ground ``claim`` (a one-line reason), or None when they do: at least
    ``min_coverage`` of its content words appear in them, and so does every number it states."""
    joined = "\n".join(cited_texts)
    if not joined.strip():
        return "it cites no passage that this run retrieved"
    share = coverage(claim, joined)
    if share < min_coverage:
        return f"only {share:.0%} of its content words are in the cited passages"
    numbers = set(stated_numbers(joined))
    missing = [n for n in dict.fromkeys(stated_numbers(claim)) if n not in numbers]
    if missing:
        return f"the cited passages do not state {', '.join(missing)}"
    return None
