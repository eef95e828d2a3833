"""Keeping a prompt inside the model's context window, visibly.

Prompt tokens are estimated from the rendered text (no tokenizer is shared by every server; English and
JSON run about 3.5-4 characters a token, so dividing by ``CHARS_PER_TOKEN`` errs on the long side). When
the estimate does not fit, evidence passages are dropped, least relevant first: every evidence list in
the inputs is best-first, so the last passage of the longest list goes each time. The caller records how
many were dropped; nothing is cut silently and no passage is cut in the middle.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

CHARS_PER_TOKEN = 3.2


def estimate_tokens(messages: list[dict[str, str]]) -> int:
    """A conservative token count for chat messages (a few tokens of framing per message)."""
    return sum(int(len(m.get("content") or "") / CHARS_PER_TOKEN) + 4 for m in messages)


def _evidence_lists(value: Any) -> list[list[Any]]:
    """Every list of evidence items ({"ref", "text", ...}) inside ``value``."""
    found: list[list[Any]] = []
    if isinstance(value, dict):
        for item in value.values():
            found += _evidence_lists(item)
    elif isinstance(value, list):
        if value and all(isinstance(v, dict) and "ref" in v and "text" in v for v in value):
            found.append(value)
        else:
            for item in value:
                found += _evidence_lists(item)
    return found


def fit_inputs(
    inputs: dict[str, Any], render: Callable[[dict[str, Any]], list[dict[str, str]]], budget_tokens: int
) -> tuple[dict[str, Any], int]:
    """``inputs`` with as few evidence passages dropped as keep the rendered prompt within
    ``budget_tokens``, and how many were dropped. When even no evidence does not fit, what is left is
    returned and the server decides (its refusal is a one-line model error)."""
    if estimate_tokens(render(inputs)) <= budget_tokens:
        return inputs, 0
    fitted = copy.deepcopy(inputs)
    lists = _evidence_lists(fitted)
    dropped = 0
    while any(lists) and estimate_tokens(render(fitted)) > budget_tokens:
        max(lists, key=len).pop()
        dropped += 1
    return fitted, dropped
