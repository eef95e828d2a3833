"""The on-disk checkpointer: LangGraph's SqliteSaver on one SQLite file, one thread per run.

``SqliteSaver.from_conn_string`` is a context manager, so the connection is opened here (tools/db/sqlite.py)
and closed by the caller's ``with``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from langgraph.checkpoint.sqlite import SqliteSaver

from sleuth.tools.db.sqlite import connect_sqlite


@contextmanager
def open_checkpointer(path: Path) -> Iterator[SqliteSaver]:
    conn = connect_sqlite(path)
    try:
        saver = SqliteSaver(conn)
        saver.setup()
        yield saver
    finally:
        conn.close()


def thread_config(thread_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id}}
