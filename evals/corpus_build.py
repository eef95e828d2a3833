"""Index an eval corpus with the real pipeline pieces (chunking, DuckDB store, Chroma, BM25 snapshot)
into a cache folder keyed by the corpus checksum and the index settings, so reruns reuse it.

A ``complete`` marker is written last: a build killed halfway is thrown away and redone.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import structlog

from evals.datasets import REPO_ROOT, EvalDoc, corpus_sha256
from sleuth.tools.corpus.chunking import chunk_text
from sleuth.tools.corpus.local_corpus import LocalCorpus
from sleuth.tools.corpus.store import NewDocument
from sleuth.tools.embeddings import MiniLMEmbedder
from sleuth.tools.protocols import Embedder
from sleuth.tools.records import content_hash

log = structlog.get_logger(__name__)

CACHE_ROOT = REPO_ROOT / "evals" / "results" / "cache"
MODEL_CACHE = Path.home() / ".cache" / "sleuth" / "models"
EMBED_BATCH_DOCS = 256


@dataclass(frozen=True)
class IndexSettings:
    chunk_chars: int = 1000
    overlap_chars: int = 150

    def key(self) -> str:
        return f"c{self.chunk_chars}o{self.overlap_chars}"


def default_embedder() -> Embedder:
    return MiniLMEmbedder(MODEL_CACHE)


def corpus_dir(
    name: str, docs: list[EvalDoc], settings: IndexSettings, embedder: Embedder, root: Path
) -> Path:
    model = embedder.name.rsplit("/", 1)[-1]
    return root / f"{name}-{corpus_sha256(docs)[:12]}-{settings.key()}-{model}"


def new_document(doc: EvalDoc, settings: IndexSettings) -> NewDocument:
    chunks = chunk_text(
        doc.doc_id, doc.text, max_chars=settings.chunk_chars, overlap_chars=settings.overlap_chars
    )
    digest = content_hash(doc.title + "\n" + doc.text)
    return NewDocument(doc.doc_id, f"eval:{doc.doc_id}", doc.title, "eval", digest, digest, doc.text, chunks)


def build_corpus(
    name: str,
    docs: list[EvalDoc],
    *,
    settings: IndexSettings = IndexSettings(),
    embedder: Embedder | None = None,
    root: Path = CACHE_ROOT,
) -> tuple[LocalCorpus, dict[str, float | int | bool]]:
    """The indexed corpus (built or reused) and facts about the build: seconds, chunks, cached."""
    embedder = embedder or default_embedder()
    folder = corpus_dir(name, docs, settings, embedder, root)
    marker = folder / "complete"
    if marker.is_file():
        return LocalCorpus(folder, embedder), {**json.loads(marker.read_text()), "cached": True}
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    corpus = LocalCorpus(folder, embedder)
    chunks = 0
    for i in range(0, len(docs), EMBED_BATCH_DOCS):
        batch = [new_document(d, settings) for d in docs[i : i + EMBED_BATCH_DOCS]]
        corpus.store.write_pending(batch)
        chunks += corpus.embed_documents([d.doc_id for d in batch])
        log.info("eval.index.progress", corpus=name, docs=min(i + EMBED_BATCH_DOCS, len(docs)), chunks=chunks)
    corpus.rebuild_lexical()
    facts = {
        "index_seconds": round(time.perf_counter() - started, 1),
        "documents": len(docs),
        "chunks": chunks,
    }
    marker.write_text(json.dumps({**facts, "settings": asdict(settings)}))
    return corpus, {**facts, "cached": False}
