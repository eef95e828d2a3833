"""The one place that picks concrete adapters from settings and hands them out."""

from __future__ import annotations

import hashlib
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

from sleuth.agents.budget import Ledger, ResearchLimits
from sleuth.settings import Settings, default_settings
from sleuth.tools.corpus.local_corpus import LocalCorpus
from sleuth.tools.corpus.vectors import VectorIndex, VectorStore
from sleuth.tools.embeddings import make_embedder
from sleuth.tools.errors import ConfigError
from sleuth.tools.protocols import Embedder, Reranker

# What only some commands need is imported where it is used: `sleuth search` should not pay for the
# LLM client, the file extractors or the offline engine (~0.5 s of imports on 2 cores).
if TYPE_CHECKING:
    from sleuth.agents.offline.engine import OfflineEngine
    from sleuth.tools.corpus.ingest import IngestOptions, IngestReport, ProgressFn
    from sleuth.tools.llm import ChatModel

Corpus = LocalCorpus

SAMPLE_CORPUS = Path(__file__).resolve().parent / "sample_corpus"


def limits_from_settings(settings: Settings | None = None) -> ResearchLimits:
    """The research limits of ``settings`` (default: every setting at its default)."""
    settings = settings or default_settings()
    return ResearchLimits(**{f.name: getattr(settings, f.name) for f in fields(ResearchLimits)})


def offline_engine(settings: Settings | None = None) -> OfflineEngine:
    from sleuth.agents.offline.engine import OfflineEngine, OfflineRules

    settings = settings or default_settings()
    return OfflineEngine(
        OfflineRules(
            sufficient_passages=settings.sufficient_passages,
            sufficient_coverage=settings.sufficient_coverage,
            support_threshold=settings.support_threshold,
        )
    )


def make_chat_model(settings: Settings) -> ChatModel:
    """The configured LLM, or the offline engine when no model is set (or it is set to "offline")."""
    from sleuth.agents.offline.engine import OFFLINE_ENGINE_NAME
    from sleuth.tools.llm import OpenAIChatModel

    if not settings.llm_model or settings.llm_model == OFFLINE_ENGINE_NAME:
        return offline_engine(settings)
    api_key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return OpenAIChatModel(
        settings.llm_base_url,
        api_key,
        settings.llm_model,
        timeout_s=settings.llm_timeout_s,
        max_concurrency=settings.llm_max_concurrency,
        max_output_tokens=settings.llm_max_output_tokens,
    )


def make_reranker(settings: Settings, kind: str | None = None) -> Reranker | None:
    """The reranker ``kind`` (default: the ``reranker`` setting); None for "none". A research run builds
    its "llm" reranker itself, inside the run's budget; this one gets a budget of its own."""
    kind = kind or settings.reranker
    if kind == "endpoint":
        from sleuth.tools.rerank import EndpointReranker

        if not settings.rerank_base_url:
            raise ConfigError("the endpoint reranker needs rerank_base_url (the /rerank service's URL)")
        api_key = settings.rerank_api_key.get_secret_value() if settings.rerank_api_key else None
        return EndpointReranker(
            settings.rerank_base_url,
            settings.rerank_model,
            api_key=api_key,
            timeout_s=settings.rerank_timeout_s,
        )
    if kind == "llm":
        from sleuth.agents.offline.engine import OFFLINE_ENGINE_NAME
        from sleuth.agents.rerank import LLMReranker

        model = make_chat_model(settings)
        if model.name == OFFLINE_ENGINE_NAME:
            raise ConfigError("the llm reranker needs an LLM: set llm_model (and llm_base_url) first")
        limits = limits_from_settings(settings)
        return LLMReranker(model, Ledger(limits), settings.rerank_window, settings.rerank_step)
    return None


def build_embedder(settings: Settings) -> Embedder:
    api_key = settings.embedding_api_key.get_secret_value() if settings.embedding_api_key else None
    return make_embedder(
        settings.embedding_provider,
        cache_dir=settings.model_cache_dir.expanduser() / "models",
        model=settings.embedding_model,
        base_url=settings.embedding_base_url,
        api_key=api_key,
        batch_size=settings.embedding_batch_size,
        precision=settings.embedding_precision,
    )


def vector_store(settings: Settings) -> VectorStore:
    """The embedded Chroma files in the data dir, or this corpus's collection on the Chroma server."""
    if not settings.chroma_host:
        return VectorStore(path=settings.chroma_path)
    headers = dict(settings.chroma_headers)
    if settings.chroma_token:
        headers["Authorization"] = f"Bearer {settings.chroma_token.get_secret_value()}"
    digest = hashlib.sha1(str(settings.data_dir.resolve()).encode()).hexdigest()[:12]
    return VectorStore(
        host=settings.chroma_host,
        port=settings.chroma_port,
        ssl=settings.chroma_ssl,
        headers=headers,
        collection=settings.chroma_collection or f"sleuth-{digest}",
    )


def open_corpus(settings: Settings, *, read_only: bool = False) -> LocalCorpus:
    """The local corpus; ``read_only`` for commands that only read, so they work beside other readers."""
    return LocalCorpus(
        settings.data_dir, build_embedder(settings), read_only=read_only, vector_store=vector_store(settings)
    )


def chunk_size(settings: Settings | None = None) -> dict[str, int]:
    """``chunk_text``'s size arguments from ``settings`` (default: every setting at its default)."""
    settings = settings or default_settings()
    return {"max_chars": settings.chunk_chars, "overlap_chars": settings.chunk_overlap_chars}


def ingest_options(settings: Settings, *, prune: bool = False) -> IngestOptions:
    from sleuth.tools.corpus.ingest import IngestOptions

    return IngestOptions(
        **chunk_size(settings),
        max_bytes=int(settings.max_file_mb * 1024 * 1024),
        prune=prune,
    )


def ingest_paths(
    settings: Settings, paths: list[Path], *, prune: bool = False, progress: ProgressFn | None = None
) -> IngestReport:
    from sleuth.tools.corpus.ingest import ingest_paths as _ingest_paths

    return _ingest_paths(open_corpus(settings), paths, ingest_options(settings, prune=prune), progress)


def reindex(settings: Settings, progress: ProgressFn | None = None) -> int:
    """Drop the vector collection and re-embed every chunk with the configured embedding model."""
    notify = progress or (lambda event, fields: None)
    VectorIndex.drop(vector_store(settings))
    corpus = open_corpus(settings)
    doc_ids = sorted(corpus.store.documents())
    notify("chunked", {"chunks": corpus.store.stats()["chunks"]})
    total = 0
    for i in range(0, len(doc_ids), 64):
        total += corpus.embed_documents(doc_ids[i : i + 64], lambda n: notify("embedded", {"chunks": n}))
    return total
