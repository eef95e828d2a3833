"""Every prompt, rendered with its node's real inputs, mentions only what the model is really sent: each
``<tag>`` it names is in the rendered request and each `backticked` name is an input key or a field of
the node's output schema. (planner.v1 once promised ``<question>`` tags that the renderer never wrote.)"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from sleuth.agents.decide import decide_node
from sleuth.agents.deps import ResearchDeps
from sleuth.graphs.research import build_graph
from sleuth.prompts import available_prompts, load_prompt
from sleuth.tools.llm import ChatRequest, ChatResponse
from sleuth.wiring import limits_from_settings, offline_engine
from tests.graph.helpers import SCHEMAS, TinyCorpus

TAG = re.compile(r"<([a-z_]+)>")
BACKTICKED = re.compile(r"`([a-z_]+)`")


class Recorder:
    """The offline engine, keeping every request it answers."""

    name = "recorder"

    def __init__(self) -> None:
        self.engine = offline_engine()
        self.requests: list[ChatRequest] = []

    def complete(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        return self.engine.complete(request)


@pytest.fixture(scope="module")
def requests() -> dict[str, ChatRequest]:
    model = Recorder()
    deps = ResearchDeps(model=model, search=TinyCorpus(), limits=limits_from_settings())
    state = build_graph(deps).invoke({"question": "What is BM25 and how does HyDE help retrieval?"})
    sq = state["plan"][0]
    known = [p for p in state["evidence"].values() if sq["id"] in p.get("sub_questions", [])]
    assert known, "the run gathered no evidence for the decide step to judge"
    branch = {
        "run_id": state["run_id"],
        "sub_question": sq,
        "round": 2,
        "missing": [],
        "known_evidence": known,
    }
    decide_node(branch, deps)
    return {r.task: r for r in model.requests}


def schema_fields(schema: Any) -> set[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            found.update(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema.model_json_schema())
    return found


def input_keys(request: ChatRequest) -> set[str]:
    user = next(m["content"] for m in request.messages if m["role"] == "user")
    body = user.removeprefix("Input (JSON):\n").split("\nEvidence passages")[0]
    keys: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            keys.update(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(body))
    return keys


def test_every_node_prompt_was_rendered(requests: dict[str, ChatRequest]) -> None:
    assert set(requests) == set(SCHEMAS)
    for task, request in requests.items():
        assert request.prompt_id == load_prompt(task).id


@pytest.mark.parametrize("task", sorted(SCHEMAS))
def test_prompt_mentions_only_what_is_sent(requests: dict[str, ChatRequest], task: str) -> None:
    request, prompt = requests[task], load_prompt(task).text
    user = next(m["content"] for m in request.messages if m["role"] == "user")
    for tag in TAG.findall(prompt):
        assert f"<{tag}" in user, f"{task} prompt mentions <{tag}> but the request has none"
    known = input_keys(request) | schema_fields(SCHEMAS[task])
    for name in BACKTICKED.findall(prompt):
        assert name in known, (
            f"{task} prompt mentions `{name}`, which is neither an input nor an output field"
        )


def test_older_prompt_versions_are_checked_too(requests: dict[str, ChatRequest]) -> None:
    """A pinned older version (rewriter@v1) must fit the same inputs as the one in use."""
    for name, versions in available_prompts().items():
        if name not in requests:
            continue
        user = next(m["content"] for m in requests[name].messages if m["role"] == "user")
        known = input_keys(requests[name]) | schema_fields(SCHEMAS[name])
        for version in versions:
            text = load_prompt(f"{name}@v{version}").text
            assert all(f"<{tag}" in user for tag in TAG.findall(text)), f"{name}@v{version}"
            assert all(n in known for n in BACKTICKED.findall(text)), f"{name}@v{version}"
