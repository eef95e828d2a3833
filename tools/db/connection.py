"""Opening the shared DuckDB file. DuckDB allows one writing process per file, so connections are
short-lived and a conflicting open waits briefly, then fails with a clear "busy" message."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_delay, wait_exponential_jitter

from sleuth.tools.errors import StoreBusy, StoreError

BUSY_WAIT_S = 10.0  # how long to wait for another process to release the file


class _LockConflict(Exception):
    pass


def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path))
    except duckdb.IOException as e:
        if "lock" in str(e).lower():
            raise _LockConflict(str(e)) from e
        raise StoreError(f"cannot open database {path}: {e}") from e


@contextmanager
def open_duckdb(path: Path, *, busy_wait_s: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to ``path`` (created if missing), closed on exit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    retrying = Retrying(
        retry=retry_if_exception_type(_LockConflict),
        stop=stop_after_delay(BUSY_WAIT_S if busy_wait_s is None else busy_wait_s),
        wait=wait_exponential_jitter(initial=0.05, max=1.0),
    )
    try:
        con = retrying(_connect, path)
    except RetryError as e:
        raise StoreBusy(
            f"the Sleuth database {path} is busy: another sleuth process is using it; try again when it finishes"
        ) from e
    try:
        yield con
    finally:
        con.close()
