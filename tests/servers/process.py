"""Starting and stopping the real servers tests run (PostgreSQL, Chroma, LangGraph): wait until one
answers, naming its log when it does not; stop it, killing it when it will not stop."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx


def wait_until_ready(
    ready: Callable[[], bool], server: subprocess.Popen, log: Path, what: str, timeout_s: float = 60
) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if server.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{what} did not start: {log.read_text()[-3000:]}")
        time.sleep(0.2)


def http_ok(url: str) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            return httpx.get(url, timeout=2).is_success
        except httpx.HTTPError:
            return False

    return ready


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
