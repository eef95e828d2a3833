"""Opening the shared DuckDB file. DuckDB allows one writing process per file, so connections are
short-lived and a conflicting open waits briefly, then fails with a clear "busy" message."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_exponential_jitter

from tools.errors import StoreBusy, StoreError

BUSY_WAIT_S = 10.0


class _LockConflict(Exception):
    pass


@retry(
    retry=retry_if_exception_type(_LockConflict),
    stop=stop_after_delay(BUSY_WAIT_S),
    wait=wait_exponential_jitter(initial=0.05, max=1.0),
    reraise=True,
)
def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path))
    except duckdb.IOException as e:
        if "lock" in str(e).lower():
            raise _LockConflict(str(e)) from e
        raise StoreError(f"cannot open database {path}: {e}") from e


@contextmanager
def open_duckdb(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to ``path`` (created if missing), closed on exit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = _connect(path)
    except _LockConflict as e:
        raise StoreBusy(
            f"the Sleuth database {path} is busy: another sleuth process is using it; try again when it finishes"
        ) from e
    try:
        yield con
    finally:
        con.close()
