"""A scripted OpenAI-compatible chat server on 127.0.0.1, for tests that drive the real ``openai`` client.

The test scripts what the "model" answers, in the style of openai-agents-python's FakeModel::

    rate_limited = Reply.http_error(429, headers={"Retry-After": "0"})
    with ScriptedOpenAIServer([rate_limited, "the answer"]) as server:
        model = OpenAIChatModel(server.base_url, None, "scripted-model")
        ...
    assert len(server.requests) == 2
    server.assert_all_consumed()

A responder is a list of replies, consumed in order, or a function ``(request_json) -> Reply | str``;
``responder_by_task`` routes on the ``task: <name>`` line of the first system message. A ``str`` is
shorthand for ``Reply.text(str)``. A request nobody scripted (list empty, unknown task, or the function
raised) gets HTTP 500 and is recorded in ``server.unexpected``; ``assert_all_consumed()`` fails on it and on
scripted replies left over. Every request is recorded (parsed JSON + headers) in ``server.requests``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from tests.fakes.loopback import LoopbackHTTPServer

_TASK_LINE = re.compile(r"^\s*task:\s*(\S+)", re.MULTILINE)
# Token usage a reply reports: (prompt, completion), "words" to count words, or None to send no usage.
UsageSpec = tuple[int, int] | Literal["words"] | None


@dataclass(frozen=True)
class Reply:
    """One scripted answer: content (``None`` sends ``"content": null``), an HTTP error, a delay, a drop."""

    content: str | None = ""
    status: int = 200
    error_message: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drop: bool = False
    usage: UsageSpec = "words"
    # (token, logprob) of the first token's top alternatives, sent when the request asks for logprobs
    logprobs: Sequence[tuple[str, float]] | None = None

    @classmethod
    def text(cls, content: str | None, *, usage: UsageSpec = "words") -> Reply:
        return cls(content=content, usage=usage)

    @classmethod
    def http_error(
        cls, status: int, message: str = "scripted error", headers: Mapping[str, str] | None = None
    ) -> Reply:
        return cls(status=status, error_message=message, headers=dict(headers or {}))

    @classmethod
    def slow(cls, delay_s: float, then: Reply | str = "") -> Reply:
        """Answer ``then`` after ``delay_s`` (cut short when the server shuts down), to force timeouts."""
        return replace(as_reply(then), delay_s=delay_s)

    @classmethod
    def dropped(cls) -> Reply:
        """Close the connection without answering."""
        return cls(drop=True)


def as_reply(reply: Reply | str) -> Reply:
    return reply if isinstance(reply, Reply) else Reply.text(reply)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    json: Any


class UnexpectedRequest(AssertionError):
    """Raised by a responder for a request the test did not script."""


Responder = Callable[[dict[str, Any]], "Reply | str"]


class Script:
    """Replies handed out in order; ``remaining`` says how many were never asked for."""

    def __init__(self, replies: Sequence[Reply | str], label: str = "script") -> None:
        self._replies = list(replies)
        self._label = label
        self._lock = threading.Lock()

    @property
    def remaining(self) -> int:
        return len(self._replies)

    def __call__(self, request_json: dict[str, Any]) -> Reply | str:
        with self._lock:
            if not self._replies:
                raise UnexpectedRequest(f"{self._label} is exhausted")
            return self._replies.pop(0)


def task_of(request_json: dict[str, Any] | None) -> str | None:
    """The ``task: <name>`` line of the first system message, if any (None for a GET's ``json``)."""
    systems = [m for m in (request_json or {}).get("messages", []) if m.get("role") == "system"]
    match = _TASK_LINE.search(str(systems[0].get("content") or "")) if systems else None
    return match.group(1) if match else None


class _TaskRouter:
    def __init__(self, routes: Mapping[str, Responder | Sequence[Reply | str]]) -> None:
        self._routes = {
            task: _responder(route, f"script for task {task!r}") for task, route in routes.items()
        }

    @property
    def remaining(self) -> int:
        return sum(getattr(route, "remaining", 0) for route in self._routes.values())

    def __call__(self, request_json: dict[str, Any]) -> Reply | str:
        task = task_of(request_json)
        if task not in self._routes:
            raise UnexpectedRequest(f"no script for task {task!r}")
        return self._routes[task](request_json)


def responder_by_task(routes: Mapping[str, Responder | Sequence[Reply | str]]) -> Responder:
    """Route each request to the responder (function or reply list) named by its ``task:`` line."""
    return _TaskRouter(routes)


def _responder(source: Responder | Sequence[Reply | str], label: str = "script") -> Responder:
    return source if callable(source) else Script(source, label)


class ScriptedOpenAIServer:
    def __init__(self, responder: Responder | Sequence[Reply | str] = (), *, model: str = "scripted-model"):
        self.model = model
        self.requests: list[RecordedRequest] = []
        self.unexpected: list[str] = []
        self._responder = _responder(responder)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.in_flight = 0
        self.max_in_flight = 0  # the most chat completions this server computed at once
        self._httpd = LoopbackHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.scripted = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="scripted-openai",
            daemon=True,
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> ScriptedOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving; delayed replies are cut short and every handler thread is joined."""
        self._stopping.set()
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def assert_all_consumed(self) -> None:
        left = getattr(self._responder, "remaining", 0)
        assert not self.unexpected, f"unexpected requests: {self.unexpected}"
        assert left == 0, f"{left} scripted replies were never requested"

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _reply_for(self, request_json: dict[str, Any]) -> Reply:
        try:
            return as_reply(self._responder(request_json))
        except Exception as e:  # any responder failure becomes a loud, recorded 500
            message = f"request #{len(self.requests)}: {type(e).__name__}: {e}"
            with self._lock:
                self.unexpected.append(message)
            return Reply.http_error(500, f"scripted OpenAI server: unexpected {message}")

    def _completion(self, reply: Reply, request_json: dict[str, Any]) -> dict[str, Any]:
        message = {"role": "assistant", "content": reply.content}
        choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": "stop"}
        if reply.logprobs and request_json.get("logprobs"):
            top = [{"token": t, "logprob": lp, "bytes": None} for t, lp in reply.logprobs]
            choice["logprobs"] = {"content": [{**top[0], "top_logprobs": top}]}
        body: dict[str, Any] = {
            "id": f"chatcmpl-scripted-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request_json.get("model") or self.model,
            "choices": [choice],
        }
        if reply.usage == "words":
            prompt = sum(len(str(m.get("content") or "").split()) for m in request_json.get("messages", []))
            completion = len((reply.content or "").split())
        elif reply.usage is not None:
            prompt, completion = reply.usage
        else:
            return body
        body["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion}
        body["usage"]["total_tokens"] = prompt + completion
        return body


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests assert on records instead
        pass

    def _recorded(self, body: Any) -> ScriptedOpenAIServer:
        owner: ScriptedOpenAIServer = self.server.scripted  # type: ignore[attr-defined]
        headers = {name.lower(): value for name, value in self.headers.items()}
        owner._record(RecordedRequest(self.command, self.path, headers, body))
        return owner

    def do_GET(self) -> None:
        owner = self._recorded(None)
        if self.path.rstrip("/") != "/v1/models":
            return self._send(404, {"error": {"message": f"no route {self.path}"}})
        model = {"id": owner.model, "object": "model", "created": 0, "owned_by": "sleuth-tests"}
        self._send(200, {"object": "list", "data": [model]})

    def do_POST(self) -> None:
        request_json = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        owner = self._recorded(request_json)
        with owner._lock:
            owner.in_flight += 1
            owner.max_in_flight = max(owner.max_in_flight, owner.in_flight)
        try:
            self._answer(owner, request_json)
        finally:
            with owner._lock:
                owner.in_flight -= 1

    def _answer(self, owner: ScriptedOpenAIServer, request_json: dict[str, Any]) -> None:
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._send(404, {"error": {"message": f"no route {self.path}"}})
        reply = owner._reply_for(request_json)
        if reply.delay_s and owner._stopping.wait(reply.delay_s):
            return  # shutting down: hang up instead of answering late
        if reply.drop:
            return  # the connection closes with no response at all
        if reply.status != 200:
            error = {"message": reply.error_message, "type": "scripted_error", "code": reply.status}
            return self._send(reply.status, {"error": error}, reply.headers)
        self._send(200, owner._completion(reply, request_json), reply.headers)

    def _send(self, status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        try:
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **dict(headers or {})}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout fired) before we answered
