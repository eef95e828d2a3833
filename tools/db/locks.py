"""Who holds what: the one-scheduler-per-data-directory lock (a file lock beside the data, with the
holder's pid), and whether the process that started a run is still alive."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock

from sleuth.tools.errors import ConfigError


@contextmanager
def scheduler_lock(data_dir: Path) -> Iterator[None]:
    """Hold the one-scheduler-per-data-directory lock, or refuse at once with a clear message."""
    data_dir.mkdir(parents=True, exist_ok=True)
    pid_file = data_dir / "scheduler.pid"
    lock = filelock.FileLock(str(data_dir / "scheduler.lock"), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout as e:
        pid = pid_file.read_text().strip() if pid_file.exists() else "unknown"
        raise ConfigError(
            f"another sleuth scheduler is already running on {data_dir} (pid {pid}); "
            "only one may run per data directory"
        ) from e
    try:
        pid_file.write_text(str(os.getpid()))
        yield
    finally:
        pid_file.unlink(missing_ok=True)
        lock.release()


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine (signal 0 checks without signalling)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True
