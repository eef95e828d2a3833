"""A real PostgreSQL server for tests: ``initdb`` into a temporary folder and ``postgres`` on 127.0.0.1 at
a free port, stopped when the test session ends. PostgreSQL refuses to run as root, and CI runs as root:
then the server runs as the unprivileged user ``nobody`` (subprocess ``user=``). Skips, saying why, where
the PostgreSQL binaries are absent (Debian: postgresql-15; set SLEUTH_TEST_PG_BIN for another folder)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from tests.servers.process import stop, wait_until_ready

PG_BIN_DIRS = [
    os.environ.get("SLEUTH_TEST_PG_BIN", ""),
    *sorted(map(str, Path("/usr/lib/postgresql").glob("*/bin"))),
]
UNPRIVILEGED = "nobody"


def pg_bin() -> Path:
    for folder in PG_BIN_DIRS:
        if folder and (Path(folder) / "initdb").is_file():
            return Path(folder)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    pytest.skip(
        "no PostgreSQL server binaries (initdb, postgres): install postgresql or set SLEUTH_TEST_PG_BIN"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yields a postgresql:// URL to an empty database on a fresh server."""
    binaries = pg_bin()
    root = Path(tempfile.mkdtemp(prefix="sleuth-pg-"))  # not under pytest's root-only tmp dirs
    user = UNPRIVILEGED if os.geteuid() == 0 else None
    if user:
        shutil.chown(root, user)
    data, log = root / "data", root / "server.log"
    run = {"user": user, "cwd": root, "capture_output": True, "text": True, "timeout": 120}
    done = subprocess.run(
        [binaries / "initdb", "-D", data, "-U", "sleuth", "--auth=trust", "-E", "UTF8"], **run
    )
    assert done.returncode == 0, done.stderr[-2000:]
    port = free_port()
    with log.open("w") as log_file:
        if user:
            shutil.chown(log, user)
        server = subprocess.Popen(
            [binaries / "postgres", "-D", data, "-h", "127.0.0.1", "-p", str(port), "-k", root,
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
            user=user, cwd=root, stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"postgresql://sleuth@127.0.0.1:{port}/postgres"
        try:
            wait_until_ready(lambda: _accepts(url), server, log, "postgres")
            yield url
        finally:
            stop(server)
            shutil.rmtree(root, ignore_errors=True)


def _accepts(url: str) -> bool:
    try:
        psycopg.connect(url, connect_timeout=2).close()
        return True
    except psycopg.OperationalError:  # not yet listening, or still starting up
        return False


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server_url: str) -> str:
    """A new, empty database on the session's server, for one test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return postgres_server_url.rsplit("/", 1)[0] + f"/{name}"


def postgres_checkpoints(url: str, thread_id: str) -> int:
    """How many checkpoints LangGraph's PostgresSaver holds for ``thread_id``."""
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM checkpoints WHERE thread_id = %s", [thread_id]).fetchone()[
            0
        ]
