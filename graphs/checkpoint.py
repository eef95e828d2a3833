"""The on-disk checkpointer: LangGraph's SqliteSaver on one SQLite file, one thread per run.

``SqliteSaver.from_conn_string`` is a context manager, so the connection is opened here and closed by
the caller's ``with``. ``check_same_thread=False`` because LangGraph runs parallel branches on worker
threads; the saver serialises access with its own lock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from langgraph.checkpoint.sqlite import SqliteSaver


@contextmanager
def open_checkpointer(path: Path) -> Iterator[SqliteSaver]:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        saver.setup()
        yield saver
    finally:
        conn.close()


def thread_config(thread_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id}}
