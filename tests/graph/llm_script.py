"""Scripted "LLM" answers for the research tasks, computed from the HTTP request the real ``openai``
client sent to tests/fakes/openai_server.py (so they exercise our prompt rendering too)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from tests.fakes.openai_server import Reply

_EVIDENCE = re.compile(r'<evidence ref="(?P<ref>E\d+)"[^>]*>\n(?P<text>.*?)\n</evidence>', re.S)

JsonResponder = Callable[[dict[str, Any]], "Reply | str"]


def user_text(request_json: dict[str, Any]) -> str:
    return next(m["content"] for m in request_json["messages"] if m["role"] == "user")


def inputs_of(request_json: dict[str, Any]) -> dict[str, Any]:
    body = user_text(request_json).removeprefix("Input (JSON):\n").split("\nEvidence passages")[0]
    return json.loads(body)


def evidence_of(request_json: dict[str, Any]) -> dict[str, str]:
    return {m["ref"]: m["text"] for m in _EVIDENCE.finditer(user_text(request_json))}


def reply(payload: dict[str, Any]) -> str:
    return json.dumps(payload)


def plan(*questions: str) -> JsonResponder:
    return lambda request: reply({"sub_questions": [{"question": q, "needs": "facts"} for q in questions]})


def queries(request: dict[str, Any]) -> str:
    asked = inputs_of(request)["sub_question"]
    return reply({"queries": [asked, asked.removeprefix("What is ").rstrip("?")]})


def quote_first_sentences(request: dict[str, Any]) -> str:
    texts = evidence_of(request)
    sections = []
    for section in inputs_of(request)["sections"]:
        ref = section["evidence"][0]["ref"]
        sections.append(
            {"id": section["id"], "claims": [{"text": texts[ref].split(". ")[0] + ".", "citations": [ref]}]}
        )
    return reply({"sections": sections})


def all_supported(request: dict[str, Any]) -> str:
    claims = inputs_of(request)["claims"]
    return reply(
        {"verdicts": [{"claim_id": c["claim_id"], "verdict": "supported", "reason": "ok"} for c in claims]}
    )


def cooperative_model(*questions: str, **overrides: JsonResponder) -> dict[str, JsonResponder]:
    """Routes (for ``responder_by_task``) of a model that plans ``questions``, rewrites each into two
    queries, quotes each section's first passage and finds every claim supported; ``overrides`` replace
    the responder of a task (e.g. a slow or failing writer)."""
    routes: dict[str, JsonResponder] = {
        "planner": plan(*questions),
        "rewriter": queries,
        "writer": quote_first_sentences,
        "verifier": all_supported,
    }
    return {**routes, **overrides}
