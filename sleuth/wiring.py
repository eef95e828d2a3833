"""The one place that picks concrete adapters from settings and hands them out."""

from __future__ import annotations

from pathlib import Path

from sleuth.settings import Settings
from tools.embeddings import make_embedder
from tools.ingest import IngestOptions, IngestReport, ProgressFn
from tools.ingest import ingest_paths as _ingest_paths
from tools.local_corpus import LocalCorpus
from tools.protocols import Embedder
from tools.vectors import VectorIndex

Corpus = LocalCorpus

SAMPLE_CORPUS = Path(__file__).resolve().parent / "sample_corpus"


def build_embedder(settings: Settings) -> Embedder:
    api_key = settings.embedding_api_key.get_secret_value() if settings.embedding_api_key else None
    return make_embedder(
        settings.embedding_provider,
        cache_dir=settings.model_cache_dir.expanduser() / "models",
        model=settings.embedding_model,
        base_url=settings.embedding_base_url,
        api_key=api_key,
        batch_size=settings.embedding_batch_size,
    )


def open_corpus(settings: Settings) -> LocalCorpus:
    return LocalCorpus(settings.data_dir, build_embedder(settings))


def ingest_options(settings: Settings, *, prune: bool = False) -> IngestOptions:
    return IngestOptions(
        max_chars=settings.chunk_chars,
        overlap_chars=settings.chunk_overlap_chars,
        max_bytes=int(settings.max_file_mb * 1024 * 1024),
        prune=prune,
    )


def ingest_paths(
    settings: Settings, paths: list[Path], *, prune: bool = False, progress: ProgressFn | None = None
) -> IngestReport:
    return _ingest_paths(open_corpus(settings), paths, ingest_options(settings, prune=prune), progress)


def reindex(settings: Settings, progress: ProgressFn | None = None) -> int:
    """Drop the vector collection and re-embed every chunk with the configured embedding model."""
    VectorIndex.drop(settings.chroma_path)
    corpus = open_corpus(settings)
    doc_ids = sorted(corpus.store.documents())
    total = 0
    for i in range(0, len(doc_ids), 64):
        n = corpus.embed_documents(doc_ids[i : i + 64])
        total += n
        if progress:
            progress("embedded", {"chunks": n, "documents": len(doc_ids[i : i + 64])})
    return total
