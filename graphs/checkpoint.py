"""The checkpointer: LangGraph's SqliteSaver on one SQLite file (the default, in the data dir), or its
PostgresSaver when the ``checkpointer`` setting is a postgresql:// URL. One thread per run; research,
chat, the scheduler, the web app and the LangGraph server factory all open it here.

The savers' ``from_conn_string`` are context managers, so the connection is opened here (tools/db/) and
closed by the caller's ``with``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver

from sleuth.tools.db.postgres import connect_postgres, is_postgres_url
from sleuth.tools.db.sqlite import connect_sqlite


@contextmanager
def open_checkpointer(location: Path | str) -> Iterator[BaseCheckpointSaver]:
    """``location``: a SQLite file path, or a postgresql:// URL."""
    if is_postgres_url(location):
        from langgraph.checkpoint.postgres import PostgresSaver

        with connect_postgres(str(location)) as conn:
            saver = PostgresSaver(conn)
            saver.setup()  # creates or migrates its tables; idempotent
            yield saver
        return
    conn = connect_sqlite(Path(location))
    try:
        saver = SqliteSaver(conn)
        saver.setup()
        yield saver
    finally:
        conn.close()


def thread_config(thread_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id}}
