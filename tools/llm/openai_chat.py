"""The OpenAI-compatible ``ChatModel`` (tools/llm/chat_model.py holds the interface).

``complete`` returns the raw text; validating JSON against the schema (and the one repair re-ask) is the
agent layer's job.
``OpenAIChatModel`` speaks to any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp) with:

- structured output as ``json_schema``, downgraded once to ``json_object`` + the schema (in the system
  message, and as ``response_format.schema``, which llama.cpp's servers enforce by grammar) when the server
  rejects ``json_schema`` (llama-cpp-python answers HTTP 500); the downgrade is remembered per endpoint;
- at most ``max_concurrency`` calls in flight per endpoint: a local server answers one request at a time,
  and a queued request must wait here for a slot, not time out on the server's queue;
- bounded retries (the shared policy, tools/http/retry.py) on 408/429/5xx and dropped connections,
  honouring ``Retry-After``; never on a timeout, since the server goes on computing a request its client
  gave up on and a retry would queue a second copy behind it; other statuses fail at once;
- ``max_tokens`` on every call, so an answer is bounded by more than the context;
- first-token scoring (``ChatRequest.top_logprobs``): one token with its top log-probabilities; an
  endpoint that refuses or ignores ``logprobs`` raises ``LogprobsUnsupported``, remembered per endpoint
  so it is not asked again;
- every final failure translated into a one-line ``ModelError`` naming the endpoint and status.

Logs carry task, prompt id, model, tokens and latency, never message contents or the API key.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import replace
from http import HTTPStatus
from typing import Any

import openai
import structlog
from tenacity import Retrying

from sleuth.tools.errors import LogprobsUnsupported, ModelError, ModelUnavailable
from sleuth.tools.http.retry import RETRY_AFTER_CAP_S, RetryPolicy, retry_after_s
from sleuth.tools.llm.chat_model import ChatRequest, ChatResponse, StructuredOutput, Usage
from sleuth.tools.llm.client import openai_client, status_error_headers

log = structlog.get_logger(__name__)

_REJECTION_STATUSES = (400, 422, 500)
_REJECTION_WORDS = ("response_format", "response format", "json_schema")
_HINTS = {401: "check the API key", 403: "check the API key", 404: "check the base URL and model name"}


class _StructuredOutputRejected(Exception):
    """The server refused ``response_format=json_schema``; carries the original error."""

    def __init__(self, error: openai.APIStatusError) -> None:
        super().__init__(str(error))
        self.error = error


_SLOTS: dict[str, threading.BoundedSemaphore] = {}  # endpoint -> its concurrency slots, shared per process
_MODES: dict[tuple[str, str], StructuredOutput] = {}  # (endpoint, model) -> the structured output that works
_NO_LOGPROBS: set[tuple[str, str]] = set()  # (endpoint, model) found to return no log-probabilities
_REGISTRY_LOCK = threading.Lock()


def forget_endpoints() -> None:
    """Forget what was learnt about endpoints in this process (tests start each from a clean slate)."""
    with _REGISTRY_LOCK:
        _SLOTS.clear()
        _MODES.clear()
        _NO_LOGPROBS.clear()


def _endpoint_slots(endpoint: str, size: int) -> threading.BoundedSemaphore:
    with _REGISTRY_LOCK:
        return _SLOTS.setdefault(endpoint, threading.BoundedSemaphore(size))


class OpenAIChatModel:
    """A ``ChatModel`` over an OpenAI-compatible ``/chat/completions`` endpoint (sync client).

    ``max_retries`` is the total number of attempts per call (1 = no retry); waits between attempts grow
    from ``retry_wait_s[0]`` to ``retry_wait_s[1]`` with jitter, a server's ``Retry-After`` wins (capped at
    ``retry_after_cap_s``), and no call sleeps more than ``max_total_wait_s`` in all. ``temperature=None``
    sends none (for models that only accept their default). ``max_concurrency`` bounds the calls in flight
    to this endpoint from this process (the first model built for an endpoint sets it).
    """

    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        model: str,
        *,
        timeout_s: float = 120,
        max_retries: int = 4,
        structured_output: StructuredOutput = "json_schema",
        temperature: float | None = 0.0,
        retry_wait_s: tuple[float, float] = (0.5, 8.0),
        retry_after_cap_s: float = RETRY_AFTER_CAP_S,
        max_total_wait_s: float = 60.0,
        max_concurrency: int = 1,
        max_output_tokens: int | None = 1024,
    ) -> None:
        self._policy = RetryPolicy(
            max_attempts=max_retries,
            backoff_s=retry_wait_s,
            max_total_wait_s=max_total_wait_s,
            retry_after_cap_s=retry_after_cap_s,
        )
        self._client = openai_client(base_url, api_key, timeout_s=timeout_s)
        self._model = model
        self._timeout_s = timeout_s
        self._mode: StructuredOutput = _MODES.get((self.endpoint, model), structured_output)
        self._json_schema_confirmed = False
        self._mode_lock = threading.Lock()
        self._temperature = temperature
        self._max_output_tokens = max_output_tokens
        self._slots = _endpoint_slots(self.endpoint, max_concurrency)

    @property
    def name(self) -> str:
        return f"openai:{self._model}"

    @property
    def endpoint(self) -> str:
        return str(self._client.base_url).rstrip("/")

    @property
    def structured_output(self) -> StructuredOutput:
        """The structured-output mode now in use (may have been downgraded from the configured one)."""
        return self._mode

    def complete(self, request: ChatRequest) -> ChatResponse:
        started = time.perf_counter()
        if not self._slots.acquire(timeout=request.timeout_s):
            raise ModelUnavailable(
                f"no free slot at LLM endpoint {self.endpoint} within {request.timeout_s:g} s "
                "(its other calls are still running)"
            )
        try:
            # checked holding a slot: a parallel call that learnt the answer meanwhile has told us
            if request.top_logprobs and (self.endpoint, self._model) in _NO_LOGPROBS:
                raise LogprobsUnsupported(f"LLM endpoint {self.endpoint} returns no log-probabilities")
            timeout = (
                None if request.timeout_s is None else request.timeout_s - (time.perf_counter() - started)
            )
            mode = self._mode
            try:
                completion = self._create(request, mode, timeout)
            except _StructuredOutputRejected as rejected:
                self._downgrade(rejected.error)
                mode = self._mode
                completion = self._create(request, mode, timeout)
        finally:
            self._slots.release()
        if mode == "json_schema" and request.schema is not None:
            self._json_schema_confirmed = True
        response = self._to_response(completion, mode if request.schema is not None else None)
        if request.top_logprobs:
            response = replace(response, first_token_logprobs=self._first_token_logprobs(completion))
        log.info(
            "llm.call",
            task=request.task,
            prompt_id=request.prompt_id,
            model=response.model,
            structured_output=mode if request.schema is not None else None,
            prompt_tokens=response.usage.prompt_tokens,
            completion_tokens=response.usage.completion_tokens,
            latency_ms=round((time.perf_counter() - started) * 1000),
        )
        return response

    def _create(self, request: ChatRequest, mode: StructuredOutput, timeout_s: float | None) -> Any:
        """One chat completion with retries; library errors become ``ModelError``."""
        kwargs = self._request_kwargs(request, mode)
        if timeout_s is not None:
            kwargs["timeout"] = max(0.001, min(self._timeout_s, timeout_s))
        attempts = 0

        def attempt() -> Any:
            nonlocal attempts
            attempts += 1
            try:
                return self._client.chat.completions.create(**kwargs)
            except openai.APIStatusError as e:
                if mode == "json_schema" and "response_format" in kwargs and self._is_rejection(e):
                    raise _StructuredOutputRejected(e) from e
                if (
                    request.top_logprobs
                    and e.status_code in _REJECTION_STATUSES
                    and "logprob" in str(e).lower()
                ):
                    raise self._no_logprobs(_one_line(_server_message(e))) from e
                raise

        try:
            return self._retrying(request.task)(attempt)
        except openai.OpenAIError as e:
            unavailable = (
                _is_transient(e)
                or isinstance(e, openai.APITimeoutError)
                or (isinstance(e, openai.APIStatusError) and e.status_code in _HINTS)  # key, URL, model
            )
            raise (ModelUnavailable if unavailable else ModelError)(self._failure_reason(e, attempts)) from e

    def _request_kwargs(self, request: ChatRequest, mode: StructuredOutput) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"model": self._model, "messages": request.messages}
        if self._temperature is not None:  # None: some reasoning models accept only their default
            kwargs["temperature"] = self._temperature
        if self._max_output_tokens is not None:
            kwargs["max_tokens"] = self._max_output_tokens
        if request.top_logprobs:
            return {
                **kwargs,
                "max_tokens": 1,
                "logprobs": True,
                "top_logprobs": min(request.top_logprobs, 20),
            }
        if request.schema is None:
            return kwargs
        json_schema = request.schema.model_json_schema()
        if mode == "json_schema":
            name = re.sub(r"[^A-Za-z0-9_-]", "_", request.schema.__name__)[:64]
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": json_schema, "strict": False},
            }
            return kwargs
        kwargs["messages"] = with_schema_instruction(request.messages, json_schema)
        if mode == "json_object":
            # "schema" is llama.cpp's extension (grammar-constrained output); other servers ignore it.
            kwargs["response_format"] = {"type": "json_object", "schema": json_schema}
        return kwargs

    def _is_rejection(self, error: openai.APIStatusError) -> bool:
        """Does this error say the server cannot do ``json_schema`` response formats?"""
        if error.status_code not in _REJECTION_STATUSES:
            return False
        text = f"{error.message} {json.dumps(error.body, default=str)}".lower()
        if any(word in text for word in _REJECTION_WORDS):
            return True
        # Some servers reject the unknown format without saying why; only trust that before it ever worked.
        return error.status_code in (400, 422) and not self._json_schema_confirmed

    def _downgrade(self, error: openai.APIStatusError) -> None:
        with self._mode_lock:
            if self._mode != "json_schema":
                return  # another thread already downgraded
            self._mode = "json_object"
            _MODES[(self.endpoint, self._model)] = "json_object"
        log.warning(
            "llm.structured_output_downgraded",
            endpoint=self.endpoint,
            model=self._model,
            status=error.status_code,
            from_mode="json_schema",
            to_mode="json_object",
        )

    def _retrying(self, task: str) -> Retrying:
        return self._policy.retrying(
            transient=_is_transient,
            hint=lambda error: retry_after_s(status_error_headers(error)),
            event="llm.retry",
            label=_status_label,
            task=task,
            endpoint=self.endpoint,
        )

    def _failure_reason(self, error: openai.OpenAIError, attempts: int) -> str:
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        if isinstance(error, openai.APITimeoutError):
            return f"LLM endpoint {self.endpoint} timed out ({self._timeout_s:g} s per attempt){tries}"
        if isinstance(error, openai.APIConnectionError):
            cause = _one_line(str(error.__cause__ or error))
            return f"cannot reach LLM endpoint {self.endpoint}{tries}: {cause}"
        if isinstance(error, openai.APIStatusError):
            status = _status_text(error.status_code)
            detail = _one_line(_server_message(error))
            hint = f" ({_HINTS[error.status_code]})" if error.status_code in _HINTS else ""
            said = f": {detail}" if detail else ""
            return f"LLM endpoint {self.endpoint} returned {status}{tries}{hint}{said}"
        return f"LLM endpoint {self.endpoint} failed{tries}: {_one_line(str(error))}"

    def _no_logprobs(self, detail: str) -> LogprobsUnsupported:
        _NO_LOGPROBS.add((self.endpoint, self._model))
        log.warning("llm.logprobs_unsupported", endpoint=self.endpoint, model=self._model, detail=detail)
        return LogprobsUnsupported(f"LLM endpoint {self.endpoint} returns no log-probabilities: {detail}")

    def _first_token_logprobs(self, completion: Any) -> dict[str, float]:
        """token (stripped) -> best log-probability among the first token's top alternatives."""
        logprobs = getattr(completion.choices[0], "logprobs", None)
        content = getattr(logprobs, "content", None) if logprobs is not None else None
        if not content:
            raise self._no_logprobs("the answer carried no logprobs")
        first = content[0]
        found: dict[str, float] = {}
        for alternative in [first, *(first.top_logprobs or [])]:
            token = (alternative.token or "").strip()
            found[token] = max(found.get(token, float("-inf")), float(alternative.logprob))
        return found

    def _to_response(self, completion: Any, mode: StructuredOutput | None) -> ChatResponse:
        choices = getattr(completion, "choices", None)
        if not choices:
            raise ModelError(f"LLM endpoint {self.endpoint} returned no choices")
        content = choices[0].message.content
        if content is None:
            reason = choices[0].finish_reason
            raise ModelError(
                f"LLM endpoint {self.endpoint} returned no message content (finish_reason={reason})"
            )
        usage = completion.usage
        return ChatResponse(
            text=content,
            usage=Usage(
                prompt_tokens=(usage.prompt_tokens or 0) if usage else 0,
                completion_tokens=(usage.completion_tokens or 0) if usage else 0,
            ),
            model=completion.model or self._model,
            structured_output=mode,
        )


def with_schema_instruction(
    messages: list[dict[str, str]], json_schema: dict[str, Any]
) -> list[dict[str, str]]:
    """A copy of ``messages`` whose system message (added first if missing) ends with the JSON Schema."""
    instruction = (
        "Reply with a single JSON object and nothing else (no prose, no code fences). "
        f"It must conform to this JSON Schema:\n{json.dumps(json_schema, separators=(',', ':'))}"
    )
    copied = [dict(message) for message in messages]
    if copied and copied[0].get("role") == "system":
        copied[0]["content"] = f"{copied[0].get('content') or ''}\n\n{instruction}"
        return copied
    return [{"role": "system", "content": instruction}, *copied]


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, openai.APITimeoutError):
        return False  # the server is likely still computing it: a retry would queue a second copy
    if isinstance(error, openai.APIConnectionError):
        return True
    if isinstance(error, openai.APIStatusError):
        return error.status_code in (408, 429) or error.status_code >= 500
    return False


def _server_message(error: openai.APIStatusError) -> str:
    """The server's own words: OpenAI's ``{"error": {"message": ...}}``, llama.cpp's ``{"error": "..."}``,
    FastAPI's ``{"detail": ...}``, or a plain-text body; "" when it said nothing."""
    body = error.body
    inner = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(inner, dict):
        inner = inner.get("message") or inner.get("detail")
    return str(inner) if inner else ""


def _status_label(error: BaseException | None) -> int | str:
    if isinstance(error, openai.APIStatusError):
        return error.status_code
    if isinstance(error, openai.APITimeoutError):
        return "timeout"
    return "connection_error"


def _status_text(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
