"""What the research graph knows of a language model: ``ChatModel.complete`` takes a rendered chat
prompt and returns raw text. A request carries the rendered messages and the output schema, nothing else,
so the offline engine, an OpenAI-compatible model and a scripted test model all see the same thing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import pydantic

StructuredOutput = Literal["json_schema", "json_object", "none"]


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class ChatRequest:
    task: str  # node name: "planner" | "rewriter" | "decide" | "writer" | "verifier" | ...
    messages: list[dict[str, str]]  # rendered prompt, OpenAI chat format: all a model ever sees
    schema: type[pydantic.BaseModel] | None  # expected JSON output schema; None = free text
    prompt_id: str = ""  # e.g. "planner@v1", recorded in logs
    timeout_s: float | None = None  # the most this call may take, queueing included (the run's wall budget)
    # > 0: answer with one token and return the log-probabilities of the ``top_logprobs`` most likely
    # first tokens (first-token scoring); a model that cannot raises ``LogprobsUnsupported``
    top_logprobs: int = 0


@dataclass(frozen=True)
class ChatResponse:
    text: str  # raw model output (JSON text when a schema was requested)
    usage: Usage
    model: str  # model name that answered
    structured_output: str | None = None  # how the schema was enforced, when one was asked for
    first_token_logprobs: dict[str, float] | None = None  # token (stripped) -> log-probability


@runtime_checkable
class ChatModel(Protocol):
    """Anything that answers a rendered chat prompt with raw text."""

    @property
    def name(self) -> str:
        """Which model answers, e.g. ``"offline"`` or ``"openai:gpt-4o-mini"``."""
        ...

    def complete(self, request: ChatRequest) -> ChatResponse:
        """One model answer; raises ``ModelError`` (one-line reason) when none can be had."""
        ...
