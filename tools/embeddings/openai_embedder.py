"""Any OpenAI-compatible ``/v1/embeddings`` endpoint as an ``Embedder``: float32 rows with unit L2 norm,
batched, retried by the shared policy (tools/http/retry.py)."""

from __future__ import annotations

import numpy as np
import openai

from sleuth.tools.embeddings.errors import EmbeddingError, l2_normalise
from sleuth.tools.http.retry import RetryPolicy, retry_after_s
from sleuth.tools.llm.client import openai_client, status_error_headers

_RETRY_STATUSES = {408, 409, 429}


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    return isinstance(exc, openai.APIStatusError) and (
        exc.status_code in _RETRY_STATUSES or exc.status_code >= 500
    )


def _one_line_reason(exc: Exception) -> str:
    if isinstance(exc, openai.APIStatusError):
        detail = exc.body.get("message") if isinstance(exc.body, dict) else None
        return f"HTTP {exc.status_code}: {str(detail or exc.message).splitlines()[0][:200]}"
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else 'no detail'}"


class OpenAIEmbedder:
    """Any OpenAI-compatible ``/v1/embeddings`` endpoint. ``dim`` is learnt from the first response when
    not given (reading it before any call makes one small request)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        model: str,
        dim: int | None = None,
        *,
        batch_size: int = 64,
        timeout_s: float = 60.0,
        max_attempts: int = 4,
    ) -> None:
        self.name = f"openai:{model}"
        self.base_url = base_url
        self.model = model
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self._dim = dim
        self._client = openai_client(base_url, api_key, timeout_s=timeout_s)
        self._retrying = RetryPolicy(max_attempts=max_attempts).retrying(
            transient=_is_transient,
            hint=lambda error: retry_after_s(status_error_headers(error)),
            event="embeddings.retry",
            url=base_url,
        )

    @property
    def dim(self) -> int:
        if self._dim is None:
            self.embed(["dimension probe"])
        assert self._dim is not None
        return self._dim

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim or 0), np.float32)
        batches = [texts[i : i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        return np.concatenate([self._embed_batch(batch) for batch in batches])

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        # The OpenAI API rejects empty strings; a blank space embeds "nothing" just as well.
        inputs = [text or " " for text in texts]
        try:
            response = self._retrying(self._request, inputs)
        except openai.OpenAIError as e:
            raise EmbeddingError(self._failure_reason(e)) from e
        rows = sorted(response.data, key=lambda item: item.index)
        if len(rows) != len(texts):
            raise EmbeddingError(
                f"embedding endpoint {self.base_url} returned {len(rows)} vectors for {len(texts)} texts"
            )
        vectors = np.asarray([row.embedding for row in rows], np.float32)
        if self._dim is None:
            self._dim = vectors.shape[1]
        if vectors.shape[1] != self._dim:
            raise EmbeddingError(f"{self.name} returned {vectors.shape[1]}-dim vectors, expected {self._dim}")
        if not np.all(np.linalg.norm(vectors, axis=1) > 0):
            raise EmbeddingError(f"{self.name} returned an all-zero vector")
        return l2_normalise(vectors)

    def _failure_reason(self, exc: openai.OpenAIError) -> str:
        retried = _is_transient(exc) and self.max_attempts > 1
        tries = f" after {self.max_attempts} attempts" if retried else ""
        return f"embedding endpoint {self.base_url} failed{tries}: {_one_line_reason(exc)}"

    def _request(self, inputs: list[str]) -> openai.types.CreateEmbeddingResponse:
        # "float", not the client's base64 default: not every compatible server speaks base64.
        return self._client.embeddings.create(model=self.model, input=inputs, encoding_format="float")
