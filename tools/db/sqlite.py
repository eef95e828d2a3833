"""SQLite connections (the checkpoint file). ``check_same_thread=False`` because LangGraph runs parallel
branches on worker threads; the checkpointer serialises access with its own lock."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def connect_sqlite(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    return sqlite3.connect(str(path), check_same_thread=False)


async def connect_sqlite_async(path: Path):  # type: ignore[no-untyped-def]  # an aiosqlite.Connection
    """The same file for an asyncio caller (LangGraph Server's checkpointer)."""
    import aiosqlite

    path.parent.mkdir(parents=True, exist_ok=True)
    return await aiosqlite.connect(str(path))
