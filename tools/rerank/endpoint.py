"""A cross-encoder served behind the ``/rerank`` API: llama.cpp server (``--reranking``), vLLM, Jina,
Cohere and compatible services take ``{"model", "query", "documents"}`` and answer
``{"results": [{"index", "relevance_score"}]}``; Hugging Face TEI takes ``{"query", "texts"}`` and
answers ``[{"index", "score"}]``. The Jina/Cohere shape is sent first; an endpoint that refuses it
with a 4xx naming ``texts`` gets TEI's shape from then on (remembered per endpoint).

``base_url`` is the service root or its ``/v1``; ``/rerank`` is appended unless the URL ends with it.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import structlog

from sleuth.tools.errors import ModelUnavailable
from sleuth.tools.http.retry import RetryPolicy, retry_after_s

log = structlog.get_logger(__name__)

_TEI_ENDPOINTS: set[str] = set()  # endpoints found to speak TEI's request shape
_LOCK = threading.Lock()
_TRANSIENT = {408, 425, 429, 500, 502, 503, 504}


class EndpointReranker:
    def __init__(
        self,
        base_url: str,
        model: str = "",
        *,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        retry: RetryPolicy = RetryPolicy(max_attempts=3, max_total_wait_s=20.0),
    ) -> None:
        base = base_url.rstrip("/")
        self.url = base if base.endswith("/rerank") else f"{base}/rerank"
        self.model = model
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=timeout_s, headers=self._headers)
        self._retry = retry

    @property
    def name(self) -> str:
        return f"endpoint:{self.model or self.url}"

    def score(self, query: str, texts: list[str]) -> list[float]:
        if not texts:
            return []
        tei = self.url in _TEI_ENDPOINTS
        response = self._post(self._body(query, texts, tei=tei))
        if not tei and response.status_code in (400, 422) and "texts" in response.text:
            with _LOCK:
                _TEI_ENDPOINTS.add(self.url)
            response = self._post(self._body(query, texts, tei=True))
        if response.status_code >= 400:
            raise ModelUnavailable(
                f"reranker at {self.url} answered HTTP {response.status_code}: {_one_line(response.text)}"
            )
        return _scores(response, len(texts), self.url)

    def _body(self, query: str, texts: list[str], *, tei: bool) -> dict[str, Any]:
        if tei:
            return {"query": query, "texts": texts, "raw_scores": False, "truncate": True}
        body: dict[str, Any] = {"query": query, "documents": texts, "top_n": len(texts)}
        if self.model:
            body["model"] = self.model
        return body

    def _post(self, body: dict[str, Any]) -> httpx.Response:
        def attempt() -> httpx.Response:
            response = self._client.post(self.url, json=body)
            if response.status_code in _TRANSIENT:
                response.raise_for_status()
            return response

        retrying = self._retry.retrying(
            transient=lambda e: isinstance(e, httpx.TransportError | httpx.HTTPStatusError),
            hint=lambda e: (
                retry_after_s(e.response.headers) if isinstance(e, httpx.HTTPStatusError) else None
            ),
            event="rerank.retry",
            label=lambda e: (
                e.response.status_code if isinstance(e, httpx.HTTPStatusError) else type(e).__name__
            ),
            url=self.url,
        )
        try:
            return retrying(attempt)
        except httpx.HTTPStatusError as e:
            raise ModelUnavailable(
                f"reranker at {self.url} kept failing: HTTP {e.response.status_code}"
            ) from e
        except httpx.HTTPError as e:
            raise ModelUnavailable(f"reranker at {self.url} could not be reached: {_one_line(str(e))}") from e

    def close(self) -> None:
        self._client.close()


def _scores(response: httpx.Response, n: int, url: str) -> list[float]:
    """Scores in the order the texts were sent, from either answer shape."""
    try:
        payload = response.json()
        items = payload["results"] if isinstance(payload, dict) else payload
        scores = [float("-inf")] * n
        for item in items:
            value = item.get("relevance_score", item.get("score"))
            scores[int(item["index"])] = float(value)
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise ModelUnavailable(
            f"reranker at {url} answered in an unknown shape: {_one_line(response.text)}"
        ) from e
    if float("-inf") in scores:
        raise ModelUnavailable(
            f"reranker at {url} scored {sum(s != float('-inf') for s in scores)} of {n} texts"
        )
    return scores


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
