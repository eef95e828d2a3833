"""Opening the shared DuckDB file. DuckDB allows one writing process per file, so connections are
short-lived and a conflicting open waits briefly, then fails with a clear "busy" message."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_delay, wait_exponential_jitter

from sleuth.tools.errors import StoreBusy, StoreError

BUSY_WAIT_S = 10.0  # how long to wait for another process to release the file


class _LockConflict(Exception):
    pass


_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


def _connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as e:
        if "lock" not in str(e).lower():
            raise StoreError(f"cannot open database {path}: {e}") from e
        holder = _HOLDER.search(str(e))
        if holder is not None:
            _refuse_long_holders(path, int(holder["pid"]), holder["program"])
        raise _LockConflict(str(e)) from e


def _refuse_long_holders(path: Path, pid: int, program: str) -> None:
    """Say at once who holds the file when waiting cannot help: a running ingest, or a program that is
    not a Python process (the DuckDB CLI, a database browser). A Python holder may be another sleuth
    command or sleuth used as a library, which hold the file for moments: wait for those."""
    ingest_pid = path.parent / "ingest.pid"
    if ingest_pid.exists() and ingest_pid.read_text().strip() == str(pid):
        raise StoreBusy(
            f"`sleuth ingest` (pid {pid}) is writing to {path.parent}; retry when it has finished"
        )
    if not Path(program).name.startswith("python"):
        raise StoreBusy(
            f"the Sleuth database {path} is held by another program, pid {pid} ({holder_command(pid, program)}); "
            "close it and retry"
        )


def holder_command(pid: int, program: str) -> str:
    """The holder's command line on one line (its program name where /proc cannot tell)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return program
    return " ".join(" ".join(args).split())[:100] or program


@contextmanager
def open_duckdb(
    path: Path, *, busy_wait_s: float | None = None, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to ``path``, closed on exit: read-write (the file created if missing), or read-only,
    which works beside other read-only processes (a DuckDB CLI opened with -readonly, another search)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    retrying = Retrying(
        retry=retry_if_exception_type(_LockConflict),
        stop=stop_after_delay(BUSY_WAIT_S if busy_wait_s is None else busy_wait_s),
        wait=wait_exponential_jitter(initial=0.05, max=1.0),
    )
    try:
        con = retrying(_connect, path, read_only)
    except RetryError as e:
        holder = _HOLDER.search(str(e.last_attempt.exception()))
        who = (
            f" (pid {holder['pid']}: {holder_command(int(holder['pid']), holder['program'])})"
            if holder
            else ""
        )
        raise StoreBusy(
            f"the Sleuth database {path} is busy: another sleuth process is using it{who}; "
            "try again when it finishes"
        ) from e
    try:
        yield con
    finally:
        con.close()
