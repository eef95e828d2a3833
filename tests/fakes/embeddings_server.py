"""A loopback server speaking the OpenAI /v1/embeddings protocol, for the embedder contract tests and
the CLI's model-switch test. Vectors are deterministic per text and deliberately not unit length."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import numpy as np

from tests.fakes.loopback import JSONHandler, serving

FAKE_DIM = 24


def fake_vector(text: str) -> list[float]:
    """Deterministic, deliberately not unit-length, so the client has to normalise."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return (np.random.default_rng(seed).standard_normal(FAKE_DIM) * 3.0).tolist()


@dataclass
class FakeEmbeddingsServer:
    """State of the loopback server: requests seen and the HTTP errors to answer next."""

    url: str = ""
    requests: list[dict] = field(default_factory=list)
    planned_errors: list[int] = field(default_factory=list)
    release: threading.Event | None = None  # when set, requests hang until the event fires


def _handler(state: FakeEmbeddingsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(JSONHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
            if state.release is not None:
                state.release.wait(timeout=10)
                return
            if state.planned_errors:
                status = state.planned_errors.pop(0)
                self._reply(status, {"error": {"message": f"planned {status}", "type": "test"}})
                return
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            data = [
                {"object": "embedding", "index": i, "embedding": fake_vector(t)} for i, t in enumerate(inputs)
            ]
            data.reverse()  # clients must order by "index", not by position
            usage = {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}
            self._reply(200, {"object": "list", "data": data, "model": body["model"], "usage": usage})

    return Handler


@contextmanager
def serve_embeddings() -> Iterator[FakeEmbeddingsServer]:
    state = FakeEmbeddingsServer()
    with serving(_handler(state)) as url:
        state.url = url
        try:
            yield state
        finally:
            if state.release is not None:
                state.release.set()  # hanging requests end before the server shuts down
