"""Web pages as searchable documents, next to the local corpus.

A fetched page becomes a document with ``origin='web'`` and ``source`` = its final URL, in the same
``documents``/``chunks`` tables and the same Chroma collection as local files (so the consistency
check and ``sleuth doctor`` see them). Their BM25 snapshot is separate, ``<data_dir>/lexical-web``,
rebuilt from web chunks only and versioned by its own counter (meta ``web_generation``): adding a page
costs a rebuild of the small web snapshot, not of the local one (100k chunks, ~10 s). The snapshot
carries ``provenance.json`` (doc_id -> fetched_at), written before the snapshot is swapped in, so
search results can show the fetch time without opening DuckDB.

Why not ``CorpusStore.write_pending``: it bumps the local generation, which makes every open of the
local corpus rebuild the local snapshot. The rows are written here with the same columns instead.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from sleuth.tools.corpus.chunking import chunk_text
from sleuth.tools.corpus.lexical import LexicalIndex, build_lexical_index, snapshot_generation
from sleuth.tools.corpus.local_corpus import LocalCorpus
from sleuth.tools.corpus.store import ChunkRow, NewDocument
from sleuth.tools.db.connection import open_duckdb
from sleuth.tools.records import Chunk, content_hash, short_id
from sleuth.tools.web.page_cache import format_timestamp, parse_timestamp
from sleuth.tools.web.pages import FetchedPage

log = structlog.get_logger(__name__)

PROVENANCE_FILE = "provenance.json"


def web_doc_id(final_url: str) -> str:
    return short_id("web", final_url)


@dataclass(frozen=True)
class WebSnapshot:
    """The web BM25 snapshot and when each of its documents was fetched."""

    index: LexicalIndex
    fetched_at: dict[str, str]  # doc_id -> ISO timestamp


class WebCorpus:
    def __init__(
        self,
        corpus: LocalCorpus,
        *,
        max_chars: int,
        overlap_chars: int,
        max_chunks_per_page: int | None = None,
    ) -> None:
        """``max_chunks_per_page`` indexes only a page's first chunks (embedding runs at ~14 chunks/s on
        2 cores, so a 100 KB text page costs ~8 s); the stored text stays whole and spans stay exact."""
        self.corpus = corpus
        self.max_chars = max_chars
        self.overlap_chars = overlap_chars
        self.max_chunks_per_page = max_chunks_per_page
        self.lexical_path = corpus.data_dir / "lexical-web"
        self._snapshot: WebSnapshot | None = None
        self._write_lock = threading.Lock()
        if snapshot_generation(self.lexical_path) != self.generation():
            self.rebuild_lexical()

    # --- reads ----------------------------------------------------------------------------------
    def generation(self) -> int:
        with open_duckdb(self.corpus.store.path) as con:
            return int(con.execute("SELECT value FROM meta WHERE key = 'web_generation'").fetchone()[0])

    def snapshot(self) -> WebSnapshot:
        """The current snapshot, reloaded when another process (or ``add_pages`` here) replaced it."""
        current = snapshot_generation(self.lexical_path)
        if self._snapshot is None or current != self._snapshot.index.generation:
            provenance = json.loads((self.lexical_path / PROVENANCE_FILE).read_text())
            self._snapshot = WebSnapshot(LexicalIndex(self.lexical_path), provenance["fetched_at"])
        return self._snapshot

    def web_documents(self) -> dict[str, str]:
        """doc_id -> fetched_at of every web document: the latest fetch that returned this very content
        (web_pages), else when the document was written (``ingested_at`` holds the page's fetch time)."""
        with open_duckdb(self.corpus.store.path) as con:
            rows = con.execute(
                "SELECT d.doc_id, coalesce(max(w.fetched_at), any_value(d.ingested_at)) FROM documents d "
                "LEFT JOIN web_pages w ON w.final_url = d.source AND w.content_hash = d.raw_hash AND w.error IS NULL "
                "WHERE d.origin = 'web' GROUP BY d.doc_id"
            ).fetchall()
        return {doc_id: format_timestamp(at) for doc_id, at in rows}

    # --- writes ---------------------------------------------------------------------------------
    def add_pages(self, pages: Sequence[FetchedPage]) -> list[str]:
        """Index pages not yet indexed with this content; returns the doc_ids (new or changed) indexed.
        Call with a batch (all pages of one gather): the web snapshot is rebuilt once per call."""
        with self._write_lock:  # parallel sub-question branches may add pages at the same time
            return self._add_pages(pages)

    def _add_pages(self, pages: Sequence[FetchedPage]) -> list[str]:
        known = {d.doc_id: d for d in self.corpus.store.documents().values() if d.origin == "web"}
        fresh: dict[str, tuple[FetchedPage, list[Chunk]]] = {}
        for page in pages:
            doc_id = web_doc_id(page.final_url)
            previous = known.get(doc_id)
            if previous is not None and previous.raw_hash == page.body_hash and previous.status == "indexed":
                continue
            chunks = chunk_text(
                doc_id, page.text, max_chars=self.max_chars, overlap_chars=self.overlap_chars
            )[: self.max_chunks_per_page]
            if chunks:
                fresh[doc_id] = (page, chunks)
        if not fresh:
            return []
        self._write_pending(fresh)
        self.corpus.embed_documents(list(fresh))  # Chroma, then status 'indexed'
        self.rebuild_lexical()
        log.info("web.indexed", documents=len(fresh), chunks=sum(len(c) for _, c in fresh.values()))
        return list(fresh)

    def _write_pending(self, fresh: dict[str, tuple[FetchedPage, list[Chunk]]]) -> None:
        docs = [
            NewDocument(
                doc_id=doc_id,
                source=p.final_url,
                title=p.title,
                kind=p.kind,
                raw_hash=p.body_hash,
                content_hash=content_hash(p.text),
                text=p.text,
                chunks=chunks,
                origin="web",
                ingested_at=parse_timestamp(p.fetched_at),
            )
            for doc_id, (p, chunks) in fresh.items()
        ]
        self.corpus.store.write_pending(docs, generation_key="web_generation")

    def rebuild_lexical(self) -> None:
        """Build the web snapshot with its provenance beside it, then swap both in at once."""
        generation = self.generation()
        fetched_at = self.web_documents()
        rows: list[ChunkRow] = self.corpus.store.chunk_rows(list(fetched_at)) if fetched_at else []
        provenance = json.dumps({"generation": generation, "fetched_at": fetched_at})
        build_lexical_index(self.lexical_path, rows, generation, extra_files={PROVENANCE_FILE: provenance})
        log.info("web.lexical_rebuilt", chunks=len(rows), generation=generation)
