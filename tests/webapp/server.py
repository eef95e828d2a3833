"""`sleuth serve` as a real process on a free 127.0.0.1 port, for the web app's tests, and a client that
speaks to it the way the page's script does (the CSRF header from the page's meta tag)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

_URL = re.compile(r"serving at (http://\S+)")
START_TIMEOUT_S = 90.0


@contextmanager
def sleuth_server(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """Start `sleuth serve --port 0` on ``data_dir``; yield its printed URL; stop it (SIGINT, then kill)."""
    command = [
        sys.executable,
        "-m",
        "sleuth",
        "serve",
        "--port",
        "0",
        "--no-sample",
        "--data-dir",
        str(data_dir),
        *args,
    ]
    log_path = data_dir.parent / f"serve-{os.getpid()}-{time.monotonic_ns()}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log, text=True, env={**os.environ, **(env or {})}
        )
        try:
            url = _wait_for_url(proc, log_path)
            yield url
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_for_url(proc: subprocess.Popen[str], log_path: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        match = _URL.search(line)
        if match:
            return match.group(1)
    proc.kill()
    raise AssertionError(f"sleuth serve did not start: {log_path.read_text()[-2000:]}")


class WebClient:
    """What the page's script does, over real HTTP."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url.split("?")[0].rstrip("/")
        self.http = httpx.Client(base_url=self.base, timeout=30.0)
        page = self.http.get("/").text
        self.csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]

    def post(self, path: str, body: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"X-Sleuth-CSRF": self.csrf, **kwargs.pop("headers", {})}
        if body is not None:
            kwargs["json"] = body
        return self.http.post(path, headers=headers, **kwargs)

    def events(self, thread_id: str, timeout_s: float = 120.0) -> list[dict[str, Any]]:
        """Every event of the thread's current job, until it ends."""
        found = []
        with self.http.stream("GET", f"/api/threads/{thread_id}/events", timeout=timeout_s) as response:
            assert response.status_code == 200, response.read()
            for line in response.iter_lines():
                if line.startswith("data: "):
                    found.append(json.loads(line[6:]))
        return found

    def ask(self, question: str, thread_id: str | None = None) -> tuple[str, list[dict[str, Any]]]:
        response = self.post("/api/ask", {"question": question, "thread_id": thread_id})
        assert response.status_code == 200, response.text
        tid = response.json()["thread_id"]
        return tid, self.events(tid)

    def accept(self, thread_id: str, plan: list[str]) -> list[dict[str, Any]]:
        response = self.post(f"/api/threads/{thread_id}/plan", {"action": "accept", "plan": plan})
        assert response.status_code == 200, response.text
        return self.events(thread_id)

    def report(self, thread_id: str) -> dict[str, Any]:
        response = self.http.get(f"/threads/{thread_id}/report.json")
        assert response.status_code == 200, response.text
        return response.json()

    def close(self) -> None:
        self.http.close()
