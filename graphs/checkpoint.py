"""The checkpointer: LangGraph's SqliteSaver on one SQLite file (the default, in the data dir), or its
PostgresSaver when the ``checkpointer`` setting is a postgresql:// URL. One thread per run; research,
chat, the scheduler and the web app open it here, and LangGraph Server its async twin, so a thread
started in any of them is found by the others.

The savers' ``from_conn_string`` are context managers, so the connection is opened here (tools/db/) and
closed by the caller's ``with``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver

from sleuth.tools.db.postgres import connect_postgres, connect_postgres_async, is_postgres_url
from sleuth.tools.db.sqlite import connect_sqlite, connect_sqlite_async


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


@asynccontextmanager
async def open_async_checkpointer(location: Path | str) -> AsyncIterator[BaseCheckpointSaver]:
    """The same stores for an asyncio caller: LangGraph Server (langgraph.json's ``checkpointer``)."""
    if is_postgres_url(location):
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        async with await connect_postgres_async(str(location)) as conn:
            saver = AsyncPostgresSaver(conn)
            await saver.setup()
            yield saver
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    conn = await connect_sqlite_async(Path(location))
    try:
        saver = AsyncSqliteSaver(conn)
        await saver.setup()
        yield saver
    finally:
        await conn.close()


def thread_config(thread_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id}}
