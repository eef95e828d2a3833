"""The corpus in DuckDB: documents, chunks, skips and ingest runs. Short-lived connections only
(see tools/db/connection.py), so searches and other processes can interleave with a long ingest.

A document's ``status`` is ``pending`` from the moment its chunks are written until its vectors are
in Chroma, then ``indexed``: a process killed in between leaves ``pending`` rows that the next
ingest (or ``sleuth doctor``) re-embeds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sleuth.tools.db.connection import open_duckdb
from sleuth.tools.db.migrations import is_current, migrate, utcnow_naive
from sleuth.tools.records import Chunk, Passage


def _insert_columns(con: object, table: str, rows: list[list[object]], width: int) -> None:
    """Insert rows as one statement of zipped lists: ~30x faster than executemany in DuckDB."""
    if not rows:
        return
    columns = [list(col) for col in zip(*rows, strict=True)]
    con.execute(f"INSERT INTO {table} SELECT {', '.join(['unnest(?)'] * width)}", columns)


def utcnow() -> datetime:
    return utcnow_naive()


@dataclass(frozen=True)
class StoredDocument:
    doc_id: str
    source: str
    title: str
    raw_hash: str
    status: str
    origin: str


@dataclass(frozen=True)
class NewDocument:
    doc_id: str
    source: str
    title: str
    kind: str
    raw_hash: str
    content_hash: str
    text: str
    chunks: list[Chunk]
    origin: str = "local"
    ingested_at: datetime | None = None  # default now; a web page's is its fetch time (what citations show)


@dataclass(frozen=True)
class ChunkRow:
    """What the search snapshot needs of a chunk (title/source joined from its document)."""

    chunk_id: str
    doc_id: str
    title: str
    source: str
    origin: str
    start: int
    end: int
    text: str

    def to_passage(self, score: float = 0.0, **ranking: Any) -> Passage:
        """This chunk as a Passage; ``ranking`` carries lexical/dense scores and ranks, fetched_at."""
        return Passage(
            chunk_id=self.chunk_id,
            doc_id=self.doc_id,
            title=self.title,
            source=self.source,
            start=self.start,
            end=self.end,
            text=self.text,
            score=score,
            origin=self.origin,
            **ranking,  # type: ignore[arg-type]
        )


class CorpusStore:
    """``read_only``: for commands that only read (search, status), so they work beside other readers;
    a database that still needs a migration is opened read-write once to get it."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only and is_current(path)
        if not self.read_only:
            migrate(path)

    def _open(self):  # type: ignore[no-untyped-def]  # a context manager of a DuckDB connection
        return open_duckdb(self.path, read_only=self.read_only)

    # --- reads -------------------------------------------------------------------------------
    def documents(self) -> dict[str, StoredDocument]:
        with self._open() as con:
            rows = con.execute(
                "SELECT doc_id, source, title, raw_hash, status, origin FROM documents"
            ).fetchall()
        return {r[0]: StoredDocument(*r) for r in rows}

    def document_versions(self, origin: str) -> dict[str, str]:
        """doc_id -> version (content hash and chunk count) of each document of one origin: what the
        lexical index compares to find documents added, changed or removed since it was written."""
        with self._open() as con:
            rows = con.execute(
                "SELECT doc_id, content_hash, chunk_count FROM documents WHERE origin = ?", [origin]
            ).fetchall()
        return {doc_id: f"{digest}:{chunks}" for doc_id, digest, chunks in rows}

    def generation(self) -> int:
        with self._open() as con:
            return int(con.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])

    def chunk_rows(
        self, doc_ids: Iterable[str] | None = None, *, origin: str | None = None
    ) -> list[ChunkRow]:
        """Chunks with their document's title/source, optionally only of ``doc_ids`` and/or one origin."""
        sql = (
            "SELECT c.chunk_id, c.doc_id, d.title, d.source, d.origin, c.start_char, c.end_char, c.text "
            "FROM chunks c JOIN documents d USING (doc_id) "
            "WHERE (? IS NULL OR d.origin = ?) AND (? IS NULL OR c.doc_id IN (SELECT unnest(?))) "
            "ORDER BY c.doc_id, c.ordinal"
        )
        ids = None if doc_ids is None else list(doc_ids)
        with self._open() as con:
            rows = con.execute(sql, [origin, origin, ids, ids]).fetchall()
        return [ChunkRow(*r) for r in rows]

    def indexed_chunk_ids(self) -> set[str]:
        with self._open() as con:
            rows = con.execute(
                "SELECT chunk_id FROM chunks JOIN documents USING (doc_id) WHERE status = 'indexed'"
            ).fetchall()
        return {r[0] for r in rows}

    def pending_doc_ids(self) -> list[str]:
        with self._open() as con:
            return [
                r[0] for r in con.execute("SELECT doc_id FROM documents WHERE status = 'pending'").fetchall()
            ]

    def document_text(self, doc_id: str) -> str | None:
        with self._open() as con:
            row = con.execute("SELECT text FROM documents WHERE doc_id = ?", [doc_id]).fetchone()
        return row[0] if row else None

    def stats(self) -> dict[str, int]:
        with self._open() as con:
            docs, pending = con.execute(
                "SELECT count(*), count(*) FILTER (WHERE status = 'pending') FROM documents"
            ).fetchone()
            chunks = con.execute("SELECT count(*) FROM chunks").fetchone()[0]
            skips = con.execute("SELECT count(DISTINCT source) FROM skips").fetchone()[0]
        return {"documents": docs, "pending": pending, "chunks": chunks, "skipped_paths": skips}

    def write_pending(self, docs: list[NewDocument], *, generation_key: str = "generation") -> None:
        """Replace each document's row and chunks in one transaction, status ``pending``, and move the
        given snapshot counter on (web pages have their own, so they never force a local rebuild)."""
        now = utcnow()
        with self._open() as con:
            con.execute("BEGIN")
            ids = [d.doc_id for d in docs]
            con.execute("DELETE FROM chunks WHERE doc_id IN (SELECT unnest(?))", [ids])
            con.execute("DELETE FROM documents WHERE doc_id IN (SELECT unnest(?))", [ids])
            doc_rows = [
                [
                    d.doc_id,
                    d.source,
                    d.title,
                    d.kind,
                    d.origin,
                    d.raw_hash,
                    d.content_hash,
                    len(d.text),
                    len(d.chunks),
                    "pending",
                    d.ingested_at or now,
                    now,
                    d.text,
                ]
                for d in docs
            ]
            _insert_columns(con, "documents", doc_rows, 13)
            chunk_rows = [
                [c.chunk_id, c.doc_id, c.ordinal, c.start, c.end, c.text] for d in docs for c in d.chunks
            ]
            _insert_columns(con, "chunks", chunk_rows, 6)
            self._bump_generation(con, generation_key)
            con.execute("COMMIT")

    def mark_indexed(self, doc_ids: list[str]) -> None:
        with self._open() as con:
            con.execute(
                "UPDATE documents SET status = 'indexed', updated_at = ? WHERE doc_id IN (SELECT unnest(?))",
                [utcnow(), doc_ids],
            )

    def delete_documents(self, doc_ids: list[str]) -> None:
        with self._open() as con:
            con.execute("BEGIN")
            con.execute("DELETE FROM chunks WHERE doc_id IN (SELECT unnest(?))", [doc_ids])
            con.execute("DELETE FROM documents WHERE doc_id IN (SELECT unnest(?))", [doc_ids])
            self._bump_generation(con)
            con.execute("COMMIT")

    def record_skips(self, ingest_id: str, skips: list[tuple[str, str]]) -> None:
        if not skips:
            return
        now = utcnow()
        with self._open() as con:
            con.executemany(
                "INSERT INTO skips VALUES (?, ?, ?, ?)", [[s, r, now, ingest_id] for s, r in skips]
            )

    def recent_skips(self, limit: int = 200) -> list[tuple[str, str]]:
        """The files the latest ingest that skipped any could not read, with the reason for each."""
        with self._open() as con:
            rows = con.execute(
                "SELECT source, reason FROM skips WHERE ingest_id = "
                "(SELECT ingest_id FROM skips ORDER BY skipped_at DESC LIMIT 1) ORDER BY source LIMIT ?",
                [limit],
            ).fetchall()
        return [(str(source), str(reason)) for source, reason in rows]

    def record_ingest(
        self, ingest_id: str, started_at: datetime, counts: dict[str, int], status: str
    ) -> None:
        keys = ("added", "updated", "unchanged", "skipped", "pruned", "chunks")
        with self._open() as con:
            con.execute(
                "INSERT INTO ingest_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [ingest_id, started_at, utcnow(), *[counts.get(k, 0) for k in keys], status],
            )

    @staticmethod
    def _bump_generation(con: object, key: str = "generation") -> None:
        con.execute(
            "UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS VARCHAR) WHERE key = ?", [key]
        )
