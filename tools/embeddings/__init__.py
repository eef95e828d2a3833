"""Embedders behind the ``Embedder`` Protocol: the bundled MiniLM run offline (minilm.py) and any
OpenAI-compatible endpoint (openai_embedder.py), picked by ``make_embedder``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sleuth.tools.embeddings.errors import EmbeddingError, l2_normalise
from sleuth.tools.embeddings.minilm import MINILM_DIM, MINILM_NAME, MiniLMEmbedder
from sleuth.tools.errors import ConfigError
from sleuth.tools.protocols import Embedder

__all__ = [
    "MINILM_DIM",
    "MINILM_NAME",
    "EmbeddingError",
    "MiniLMEmbedder",
    "l2_normalise",
    "make_embedder",
]


def _make_minilm(*, cache_dir: Path, batch_size: int, precision: str, **_unused: object) -> Embedder:
    # ``model`` is ignored: settings.embedding_model names the OpenAI model and has a default.
    return MiniLMEmbedder(cache_dir, batch_size=batch_size, precision=precision)


def _make_openai(
    *,
    cache_dir: Path,
    model: str | None,
    base_url: str | None,
    api_key: str | None,
    batch_size: int,
    **_unused: object,
) -> Embedder:
    if not base_url or not model:
        raise ConfigError("embedding provider 'openai' needs embedding_base_url and embedding_model")
    from sleuth.tools.embeddings.openai_embedder import OpenAIEmbedder  # the openai client: ~0.4 s to import

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
    precision: str = "fp32",
) -> Embedder:
    """The embedder for ``provider`` ("minilm" or "openai"); ``cache_dir`` holds converted models;
    ``precision`` applies to the bundled model ("fp32" or "int8")."""
    try:
        build = _PROVIDERS[provider]
    except KeyError:
        raise ConfigError(
            f"unknown embedding provider {provider!r}; choose one of {sorted(_PROVIDERS)}"
        ) from None
    return build(
        cache_dir=cache_dir,
        model=model,
        base_url=base_url,
        api_key=api_key,
        batch_size=batch_size,
        precision=precision,
    )
