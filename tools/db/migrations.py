"""The one owner of Sleuth's DuckDB schema: named, append-only migrations applied in order.

Every store (corpus, web page cache, schedules, research runs) calls ``migrate`` on the file before use;
none creates tables of its own. A migration is never edited once released: change the schema by
appending one. ``schema_migrations`` records which have run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb

from sleuth.tools.db.connection import open_duckdb
from sleuth.tools.errors import StoreError

# Append-only migrations: index i brings the schema to version i + 1.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE documents (
        doc_id VARCHAR PRIMARY KEY, source VARCHAR NOT NULL, title VARCHAR, kind VARCHAR,
        origin VARCHAR DEFAULT 'local', raw_hash VARCHAR, content_hash VARCHAR, char_count INTEGER,
        chunk_count INTEGER, status VARCHAR, ingested_at TIMESTAMP, updated_at TIMESTAMP, text VARCHAR);
    -- no key constraints on chunks: DuckDB rejects delete + re-insert of one key in a transaction
    CREATE TABLE chunks (
        chunk_id VARCHAR, doc_id VARCHAR, ordinal INTEGER, start_char INTEGER, end_char INTEGER, text VARCHAR);
    CREATE TABLE skips (source VARCHAR, reason VARCHAR, skipped_at TIMESTAMP, ingest_id VARCHAR);
    CREATE TABLE ingest_runs (
        ingest_id VARCHAR, started_at TIMESTAMP, ended_at TIMESTAMP, added INTEGER, updated INTEGER,
        unchanged INTEGER, skipped INTEGER, pruned INTEGER, chunks INTEGER, status VARCHAR);
    CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
    INSERT INTO meta VALUES ('generation', '0');
    """,
    # 2: the web page cache (tools/web/page_cache.py): the latest fetch of each URL, pages and failures.
    # Web documents themselves live in documents/chunks with origin 'web'; their BM25 snapshot
    # (lexical-web/) follows its own counter so fetching a page does not rebuild the local snapshot.
    """
    CREATE TABLE web_pages (
        url VARCHAR, final_url VARCHAR, status INTEGER, content_type VARCHAR, fetched_at TIMESTAMP,
        content_hash VARCHAR, title VARCHAR, author VARCHAR, published VARCHAR, text VARCHAR, kind VARCHAR,
        error VARCHAR, error_kind VARCHAR);
    INSERT INTO meta VALUES ('web_generation', '0');
    """,
    # 3: scheduled report jobs and every run of them (tools/db/schedules.py, sleuth/scheduler.py).
    """
    CREATE TABLE schedule_jobs (
        name VARCHAR PRIMARY KEY, question VARCHAR NOT NULL, cron VARCHAR NOT NULL, web VARCHAR,
        llm_model VARCHAR, llm_base_url VARCHAR, out_dir VARCHAR, ingest_dir VARCHAR, retries INTEGER,
        retry_after_s DOUBLE, paused BOOLEAN, next_run_at TIMESTAMP, failures INTEGER, created_at TIMESTAMP);
    CREATE TABLE schedule_runs (
        run_id VARCHAR, job VARCHAR, trigger VARCHAR, started_at TIMESTAMP, status VARCHAR,
        ended_at TIMESTAMP, error VARCHAR, report_md VARCHAR, report_json VARCHAR, engine VARCHAR,
        llm_calls INTEGER, attempt INTEGER);
    """,
    # the process that runs a job: a manual run whose process died without finishing is closed by it
    "ALTER TABLE schedule_runs ADD COLUMN pid INTEGER;",
    # 5: research runs (tools/db/runs.py); IF NOT EXISTS: before this migration runs.py created the table
    """
    CREATE TABLE IF NOT EXISTS research_runs (
        run_id VARCHAR PRIMARY KEY,
        question VARCHAR NOT NULL,
        engine VARCHAR NOT NULL,
        started_at TIMESTAMP NOT NULL,
        ended_at TIMESTAMP,
        status VARCHAR NOT NULL,          -- running | completed | unanswered | partial | failed | interrupted
        attempts INTEGER NOT NULL,        -- 1 + number of resumes
        llm_calls INTEGER,
        tokens INTEGER,
        claims_total INTEGER,
        claims_supported INTEGER,
        report_path VARCHAR,
        report_format VARCHAR,
        stop_reason VARCHAR,
        error VARCHAR
    );
    """,
    # 6: the process running a research run, so the next command can close a killed one as interrupted
    "ALTER TABLE research_runs ADD COLUMN pid INTEGER;",
]


def utcnow_naive() -> datetime:
    """Now in UTC as a naive timestamp (DuckDB's TIMESTAMP has no zone)."""
    return datetime.now(UTC).replace(tzinfo=None)


def is_current(path: Path) -> bool:
    """Has the database at ``path`` every migration already (so it can be opened read-only)?"""
    if not path.exists():
        return False
    try:
        with open_duckdb(path, read_only=True) as con:
            applied = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]
    except (StoreError, duckdb.Error):
        return False
    return applied == len(MIGRATIONS)


def migrate(path: Path) -> None:
    """Bring the database at ``path`` (created if missing) to the latest schema version."""
    with open_duckdb(path) as con:
        con.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER, applied_at TIMESTAMP)")
        applied = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]
        for version, sql in enumerate(MIGRATIONS[applied:], start=applied + 1):
            con.execute("BEGIN")
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?)", [version, utcnow_naive()])
            con.execute("COMMIT")
