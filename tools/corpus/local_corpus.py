"""The local corpus as one object: DuckDB store + Chroma vectors + BM25 snapshot + embedder.

Searching touches only the snapshot and Chroma (no DuckDB connection), so it is fast and does not
block other processes. The snapshot is brought up to date whenever the store's generation moved on:
documents added, changed or removed since are applied to it, not rebuilt whole.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import structlog

from sleuth.tools.corpus.hybrid import HybridSearch
from sleuth.tools.corpus.lexical import (
    LexicalIndex,
    build_lexical_index,
    index_text,
    snapshot_generation,
    update_lexical_index,
)
from sleuth.tools.corpus.store import CorpusStore
from sleuth.tools.corpus.vectors import VectorIndex, VectorStore, embedded
from sleuth.tools.errors import StoreError
from sleuth.tools.protocols import Embedder
from sleuth.tools.records import Passage

log = structlog.get_logger(__name__)


EMBED_SLICE = 128  # chunks embedded and stored at a time: progress every few seconds, bounded memory


class LocalCorpus:
    def __init__(
        self,
        data_dir: Path,
        embedder: Embedder,
        *,
        read_only: bool = False,
        vector_store: VectorStore | None = None,
    ) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        self.embedder = embedder
        self.store = CorpusStore(data_dir / "sleuth.duckdb", read_only=read_only)
        self.vectors = VectorIndex(
            vector_store or embedded(data_dir / "chroma"), model_name=embedder.name, dim=embedder.dim
        )
        self.lexical_path = data_dir / "lexical"
        self._lexical: LexicalIndex | None = None
        if snapshot_generation(self.lexical_path) != self.store.generation():
            self.sync_lexical()

    # --- search (SearchBackend) -----------------------------------------------------------
    def search(self, query: str, k: int = 10) -> list[Passage]:
        return HybridSearch(self.lexical(), self.vectors, self.embedder).search(query, k)

    def lexical(self) -> LexicalIndex:
        """The current snapshot, reloaded when another process (or an ingest here) replaced it."""
        if self._lexical is None or snapshot_generation(self.lexical_path) != self._lexical.generation:
            self._lexical = LexicalIndex(self.lexical_path)
        return self._lexical

    def get_passage(self, chunk_id: str) -> Passage | None:
        ix = self.lexical()
        row_index = ix.row_index(chunk_id)
        if row_index is None:
            return None
        return ix.row(row_index).to_passage()

    def document_text(self, doc_id: str) -> str | None:
        return self.store.document_text(doc_id)

    # --- maintenance ----------------------------------------------------------------------
    def rebuild_lexical(self) -> None:
        """A whole new snapshot from the store, swapped in when complete (readers keep the old one)."""
        generation = self.store.generation()
        versions = self.store.document_versions("local")
        rows = self.store.chunk_rows(origin="local")  # web pages have their own snapshot (tools/web)
        build_lexical_index(self.lexical_path, rows, generation, versions)
        log.info("lexical.rebuilt", chunks=len(rows), generation=generation)

    def sync_lexical(self) -> None:
        """Apply to the snapshot what changed in the store since it was written: new and changed
        documents' chunks become a segment, removed and replaced documents are masked out. A missing or
        unreadable snapshot (or one in the old format) is rebuilt whole."""
        generation = self.store.generation()
        if snapshot_generation(self.lexical_path) is None:
            self.rebuild_lexical()
            return
        current = self.store.document_versions("local")
        try:
            added_docs, outdated = LexicalIndex(self.lexical_path).changed_documents(current)
        except StoreError as e:  # a damaged snapshot: the database has everything to build it again
            log.warning("lexical.damaged", error=str(e))
            self.rebuild_lexical()
            return
        added = self.store.chunk_rows(added_docs) if added_docs else []
        change = update_lexical_index(self.lexical_path, added=added, current=current, generation=generation)
        log.info(
            "lexical.updated",
            documents_added=len(added_docs),
            documents_outdated=outdated,
            generation=generation,
            **change,
        )

    def embed_documents(self, doc_ids: list[str], progress: Callable[[int], None] | None = None) -> int:
        """(Re-)embed every chunk of these documents from the store and mark them indexed, ``EMBED_SLICE``
        chunks at a time (memory is bounded by the slice, not by a file); ``progress(n)`` after each slice.
        Until the last slice is in, the documents stay pending, so a killed process is repaired later."""
        rows = self.store.chunk_rows(doc_ids)
        self.vectors.delete_documents(doc_ids)
        for start in range(0, len(rows), EMBED_SLICE):
            part = rows[start : start + EMBED_SLICE]
            vectors = self.embedder.embed([index_text(r.title, r.text) for r in part])
            self.vectors.add([r.chunk_id for r in part], vectors, [r.doc_id for r in part])
            if progress is not None:
                progress(len(part))
        self.store.mark_indexed(doc_ids)
        return len(rows)

    def check_consistency(
        self, *, full: bool, progress: Callable[[int], None] | None = None
    ) -> dict[str, int]:
        """Repair DuckDB/Chroma drift left by a killed process. ``full`` compares every id. ``progress(n)``
        counts chunks embedded again."""
        repaired = {"pending_documents": 0, "orphan_vectors": 0, "missing_vectors": 0}
        pending = self.store.pending_doc_ids()
        if pending:
            self.embed_documents(pending, progress)
            repaired["pending_documents"] = len(pending)
        indexed = self.store.indexed_chunk_ids() if full else None
        if not full and self.vectors.count() != self.store.stats()["chunks"]:
            indexed = self.store.indexed_chunk_ids()
        if indexed is not None:
            in_chroma = self.vectors.ids()
            orphans = sorted(in_chroma - indexed)
            self.vectors.delete_ids(orphans)
            missing = indexed - in_chroma
            if missing:
                docs = sorted({r.doc_id for r in self.store.chunk_rows() if r.chunk_id in missing})
                self.embed_documents(docs, progress)
            repaired.update(orphan_vectors=len(orphans), missing_vectors=len(missing))
        if any(repaired.values()):
            log.warning("corpus.repaired", **repaired)
        return repaired
