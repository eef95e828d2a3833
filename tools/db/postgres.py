"""PostgreSQL connections (the checkpoint store, when ``checkpointer`` is a postgresql:// URL), set up as
LangGraph's PostgresSaver needs them: autocommit, dict rows, no server-side prepared statements (so they
work behind PgBouncer in transaction mode)."""

from __future__ import annotations

from urllib.parse import urlsplit

import psycopg
from psycopg.rows import dict_row

from sleuth.tools.errors import ConfigError

CONNECT_TIMEOUT_S = 10


def is_postgres_url(location: object) -> bool:
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    where = f"{host}:{parts.port}" if parts.port else host
    return f"{parts.scheme}://{parts.username + '@' if parts.username else ''}{where}{parts.path}"


_OPTIONS = {
    "autocommit": True,
    "prepare_threshold": 0,
    "row_factory": dict_row,
    "connect_timeout": CONNECT_TIMEOUT_S,
}


def _unreachable(url: str, e: Exception) -> ConfigError:
    reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return ConfigError(f"cannot reach the checkpoint database {redacted(url)}: {reason}")


def connect_postgres(url: str) -> psycopg.Connection:
    try:
        return psycopg.connect(url, **_OPTIONS)
    except psycopg.Error as e:
        raise _unreachable(url, e) from e


async def connect_postgres_async(url: str) -> psycopg.AsyncConnection:
    try:
        return await psycopg.AsyncConnection.connect(url, **_OPTIONS)
    except psycopg.Error as e:
        raise _unreachable(url, e) from e
