"""`langgraph dev` (LangGraph Server's in-memory runtime, from langgraph-cli[inmem]) on a free 127.0.0.1
port, serving Sleuth's langgraph.json with no extra flags (no --allow-blocking), run from a temporary
folder so its .langgraph_api state stays out of the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.servers.postgres import free_port
from tests.servers.process import http_ok, stop, wait_until_ready

ROOT = Path(__file__).resolve().parents[2]


def langgraph_cli() -> str:
    beside = Path(sys.executable).with_name("langgraph")
    found = str(beside) if beside.is_file() else shutil.which("langgraph")
    if not found:
        pytest.skip("no `langgraph` command: langgraph-cli[inmem] is in the dev extras")
    return found


@contextmanager
def langgraph_dev(data_dir: Path, workdir: Path, env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    command = [
        langgraph_cli(), "dev", "--config", str(ROOT / "langgraph.json"), "--host", "127.0.0.1",
        "--port", str(port), "--no-browser", "--no-reload",
    ]  # fmt: skip
    env = {
        **os.environ,
        **env,
        "SLEUTH_DATA_DIR": str(data_dir),
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGSMITH_TRACING": "false",
    }
    log_path = workdir / "langgraph-dev.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_ready(http_ok(f"{url}/ok"), server, log_path, "langgraph dev", timeout_s=120)
            yield url
        finally:
            stop(server)
    assert "BlockingError" not in log_path.read_text(), log_path.read_text()[-3000:]
