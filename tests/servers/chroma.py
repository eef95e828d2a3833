"""A real Chroma server for tests: ``chroma run`` (the CLI that ships with the chromadb package) on
127.0.0.1 at a free port, its data in a temporary folder, stopped when the test session ends."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.postgres import free_port
from tests.servers.process import http_ok, stop, wait_until_ready


def chroma_cli() -> str:
    beside = Path(sys.executable).with_name("chroma")  # the venv's own
    found = str(beside) if beside.is_file() else shutil.which("chroma")
    if not found:
        pytest.skip("no `chroma` command (it ships with the chromadb package)")
    return found


@pytest.fixture(scope="session")
def chroma_server() -> Iterator[tuple[str, int]]:
    """(host, port) of a running Chroma server."""
    root = Path(tempfile.mkdtemp(prefix="sleuth-chroma-"))
    port = free_port()
    log = (root / "server.log").open("w")
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    command = [chroma_cli(), "run", "--path", str(root / "data"), "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    try:
        heartbeat = http_ok(f"http://127.0.0.1:{port}/api/v2/heartbeat")
        wait_until_ready(heartbeat, server, root / "server.log", "chroma run")
        yield "127.0.0.1", port
    finally:
        stop(server)
        log.close()
        shutil.rmtree(root, ignore_errors=True)
