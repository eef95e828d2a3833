"""The DuckDB corpus store on a real database file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sleuth.tools.corpus.store import CorpusStore, NewDocument
from sleuth.tools.db.connection import open_duckdb
from sleuth.tools.db.migrations import MIGRATIONS
from sleuth.tools.errors import StoreBusy
from sleuth.tools.records import Chunk


def _doc(doc_id: str, text: str) -> NewDocument:
    chunks = [Chunk(f"{doc_id}-c0", doc_id, 0, 0, len(text), text)]
    return NewDocument(
        doc_id=doc_id,
        source=f"/docs/{doc_id}.md",
        title=doc_id.upper(),
        kind="markdown",
        raw_hash="r" + text,
        content_hash="h" + text,
        text=text,
        chunks=chunks,
    )


def test_migrations_are_idempotent_and_recorded(tmp_path: Path) -> None:
    CorpusStore(tmp_path / "db.duckdb")
    CorpusStore(tmp_path / "db.duckdb")
    with open_duckdb(tmp_path / "db.duckdb") as con:
        assert con.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(MIGRATIONS)


def test_write_pending_then_indexed_and_replace(tmp_path: Path) -> None:
    store = CorpusStore(tmp_path / "db.duckdb")
    g0 = store.generation()
    store.write_pending([_doc("a", "alpha text"), _doc("b", "beta text")])
    assert store.pending_doc_ids() == ["a", "b"] or sorted(store.pending_doc_ids()) == ["a", "b"]
    assert store.generation() == g0 + 1
    store.mark_indexed(["a"])
    assert store.pending_doc_ids() == ["b"]
    assert store.indexed_chunk_ids() == {"a-c0"}
    # replacing a document replaces its chunks (same chunk id re-inserted in one transaction)
    store.write_pending([_doc("a", "alpha text v2")])
    rows = store.chunk_rows(["a"])
    assert [r.text for r in rows] == ["alpha text v2"] and rows[0].title == "A"
    assert store.document_text("a") == "alpha text v2"
    store.delete_documents(["a", "b"])
    assert store.stats()["documents"] == 0 and store.stats()["chunks"] == 0


def hold(path: Path, label: str) -> subprocess.Popen:
    """A process holding ``path`` open read-write; ``label`` is in its command line."""
    code = (
        f"import duckdb, sys  # {label}\n"
        f"c = duckdb.connect({str(path)!r})\nprint('ready', flush=True)\nsys.stdin.read()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "ready"
    return holder


def test_a_database_held_by_a_short_sleuth_command_is_waited_for_then_busy(tmp_path: Path) -> None:
    path = tmp_path / "db.duckdb"
    CorpusStore(path)
    holder = hold(path, "a sleuth search")
    try:
        with (
            pytest.raises(StoreBusy, match="busy: another sleuth process"),
            open_duckdb(path, busy_wait_s=0.3),
        ):
            pass
    finally:
        holder.communicate("", timeout=10)
    with open_duckdb(path, busy_wait_s=0.3) as con:  # free again once the other process exits
        assert con.execute("SELECT 1").fetchone() == (1,)


def test_the_busy_message_names_the_process_that_holds_the_database(tmp_path: Path) -> None:
    path = tmp_path / "db.duckdb"
    CorpusStore(path)
    holder = hold(path, "a notebook")
    try:
        with (
            pytest.raises(StoreBusy, match=rf"busy: .* \(pid {holder.pid}: .*python.*a notebook") as caught,
            open_duckdb(path, busy_wait_s=0.3),
        ):
            pass
    finally:
        holder.communicate("", timeout=10)
    assert "\n" not in str(caught.value)
