"""A loopback server speaking the ``/rerank`` protocol of llama.cpp server, vLLM, Jina and Cohere
(``{"query", "documents"}`` -> ``{"results": [{"index", "relevance_score"}]}``), or, with
``tei=True``, Hugging Face TEI's (``{"query", "texts"}`` -> ``[{"index", "score"}]``; a request in the
other shape gets TEI's 422). Scores come from ``score(query, text)``; results are sent best first, as
the real services do, so clients must place them by ``index``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.fakes.loopback import JSONHandler, serving

ScoreFn = Callable[[str, str], float]


@dataclass
class FakeRerankServer:
    score: ScoreFn
    tei: bool = False
    url: str = ""
    requests: list[dict] = field(default_factory=list)
    planned_errors: list[int] = field(default_factory=list)


def _handler(state: FakeRerankServer) -> type[BaseHTTPRequestHandler]:
    class Handler(JSONHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
            if not self.path.endswith("/rerank"):
                self._reply(404, {"error": "not found"})
                return
            if state.planned_errors:
                self._reply(state.planned_errors.pop(0), {"error": "planned"})
                return
            if state.tei and "texts" not in body:
                self._reply(422, {"error": "Failed to deserialize the JSON body: missing field `texts`"})
                return
            texts = body["texts"] if state.tei else body["documents"]
            scored = sorted(
                ((i, state.score(body["query"], t)) for i, t in enumerate(texts)), key=lambda x: -x[1]
            )
            if state.tei:
                self._reply(200, [{"index": i, "score": s} for i, s in scored])
            else:
                results = [{"index": i, "relevance_score": s} for i, s in scored][: body.get("top_n")]
                self._reply(200, {"model": body.get("model", ""), "results": results})

    return Handler


@contextmanager
def serve_rerank(score: ScoreFn, *, tei: bool = False) -> Iterator[FakeRerankServer]:
    state = FakeRerankServer(score=score, tei=tei)
    with serving(_handler(state)) as url:
        state.url = url
        yield state
