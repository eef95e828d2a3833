"""Research runs recorded in DuckDB: question, engine, timings, LLM calls, tokens, report path, outcome.

One row per run id (the checkpoint thread id), so resuming a killed run updates its row instead of
adding one. Connections are short-lived (sleuth.tools.db.connection) because DuckDB allows one writing process.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from sleuth.tools.db.connection import open_duckdb
from sleuth.tools.db.locks import process_alive
from sleuth.tools.db.migrations import migrate
from sleuth.tools.errors import StoreBusy

log = structlog.get_logger(__name__)

_COLUMNS = (
    "run_id",
    "question",
    "engine",
    "started_at",
    "ended_at",
    "status",
    "attempts",
    "llm_calls",
    "tokens",
    "claims_total",
    "claims_supported",
    "report_path",
    "report_format",
    "stop_reason",
    "error",
)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class RunOutcome:
    status: str
    llm_calls: int = 0
    tokens: int = 0
    claims_total: int = 0
    claims_supported: int = 0
    report_path: str | None = None
    report_format: str | None = None
    stop_reason: str | None = None
    error: str | None = None


ORPHANED = "its process ended without finishing the run (killed?); resume it with --thread"
INTERRUPTED = "interrupted by the user; resume it with --thread"


PENDING_FILE = "runs-pending.jsonl"


class RunLog:
    """The ``research_runs`` table. While another program holds the database (a DuckDB CLI left open),
    records are kept in ``runs-pending.jsonl`` beside it and written the next time the table can be:
    research goes on and nothing is lost."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.pending = db_path.parent / PENDING_FILE
        try:
            migrate(db_path)
            self.deferred = False
        except StoreBusy as e:
            self.deferred = True
            log.warning("runs.deferred", reason=str(e), pending=str(self.pending))
            return
        self._replay()
        self.close_orphans()

    def _defer(self, kind: str, **record: Any) -> None:
        with self.pending.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"kind": kind, **record}, default=str) + "\n")

    def _replay(self) -> None:
        if not self.pending.exists():
            return
        for line in self.pending.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            at = datetime.fromisoformat(record["at"])
            if record["kind"] == "started":
                self.started(record["run_id"], record["question"], record["engine"], at=at, pid=record["pid"])
            else:
                self.finished(record["run_id"], RunOutcome(**record["outcome"]), at=at)
        self.pending.unlink()

    def close_orphans(self) -> list[str]:
        """Mark as interrupted the runs still ``running`` whose process is gone (killed with -9, crashed)."""
        with open_duckdb(self.db_path) as con:
            rows = con.execute("SELECT run_id, pid FROM research_runs WHERE status = 'running'").fetchall()
            dead = [run_id for run_id, pid in rows if pid is not None and not process_alive(pid)]
            for run_id in dead:
                con.execute(
                    "UPDATE research_runs SET status = 'interrupted', ended_at = ?, error = ? WHERE run_id = ?",
                    [_now(), ORPHANED, run_id],
                )
        return dead

    def started(
        self, run_id: str, question: str, engine: str, *, at: datetime | None = None, pid: int | None = None
    ) -> None:
        """Record a run starting, or a resume of an earlier one (attempts + 1, status back to running)."""
        at, pid = at or _now(), pid or os.getpid()
        if self.deferred:
            return self._defer("started", run_id=run_id, question=question, engine=engine, at=at, pid=pid)
        with open_duckdb(self.db_path) as con:
            con.execute(
                "INSERT INTO research_runs (run_id, question, engine, started_at, status, attempts, pid) "
                "VALUES (?, ?, ?, ?, 'running', 1, ?) ON CONFLICT (run_id) DO UPDATE SET "
                "status = 'running', attempts = research_runs.attempts + 1, ended_at = NULL, error = NULL, "
                "pid = excluded.pid",
                [run_id, question, engine, at, pid],
            )

    def finished(self, run_id: str, outcome: RunOutcome, *, at: datetime | None = None) -> None:
        at = at or _now()
        if self.deferred:
            return self._defer("finished", run_id=run_id, outcome=asdict(outcome), at=at)
        with open_duckdb(self.db_path) as con:
            con.execute(
                "UPDATE research_runs SET ended_at = ?, status = ?, llm_calls = ?, tokens = ?, "
                "claims_total = ?, claims_supported = ?, report_path = ?, report_format = ?, "
                "stop_reason = ?, error = ? "
                "WHERE run_id = ?",
                [
                    at,
                    outcome.status,
                    outcome.llm_calls,
                    outcome.tokens,
                    outcome.claims_total,
                    outcome.claims_supported,
                    outcome.report_path,
                    outcome.report_format,
                    outcome.stop_reason,
                    outcome.error,
                    run_id,
                ],
            )

    def get(self, run_id: str) -> dict[str, Any] | None:
        with open_duckdb(self.db_path, read_only=self.deferred) as con:
            row = con.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM research_runs WHERE run_id = ?", [run_id]
            ).fetchone()
        return dict(zip(_COLUMNS, row, strict=True)) if row else None

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        with open_duckdb(self.db_path, read_only=self.deferred) as con:
            rows = con.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM research_runs ORDER BY started_at DESC LIMIT ?", [limit]
            ).fetchall()
        return [dict(zip(_COLUMNS, row, strict=True)) for row in rows]
