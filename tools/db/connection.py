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
    not sleuth (the DuckDB CLI, a notebook). Other sleuth commands hold it for moments: wait for them."""
    ingest_pid = path.parent / "ingest.pid"
    if ingest_pid.exists() and ingest_pid.read_text().strip() == str(pid):
        raise StoreBusy(
            f"`sleuth ingest` (pid {pid}) is writing to {path.parent}; retry when it has finished"
        )
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return  # not on Linux, or it just ended: waiting is the best guess
    if not any(
        arg == "sleuth" or arg.endswith("/sleuth") for arg in args
    ):  # `sleuth ...`, `python -m sleuth`
        command = " ".join(" ".join(args).split())  # newlines inside arguments too: one line
        raise StoreBusy(
            f"the Sleuth database {path} is held by another program, pid {pid} ({command[:80] or program}); "
            "close it and retry"
        )


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
        raise StoreBusy(
            f"the Sleuth database {path} is busy: another sleuth process is using it; try again when it finishes"
        ) from e
    try:
        yield con
    finally:
        con.close()
