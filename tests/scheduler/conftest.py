"""Fixtures for the scheduler tests: a fake clock, a small ingested corpus shared per session (copied per
test), and every test in UTC so cron slots read the same on any machine."""

from __future__ import annotations

import shutil
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from sleuth.settings import Settings, load_settings
from sleuth.wiring import SAMPLE_CORPUS, ingest_paths

TINY_DOCS = ("bm25.md", "hyde.md", "tf-idf.md")
_CACHE: dict[str, Path] = {}


class FakeClock:
    """``now()`` is a settable time; ``wait()`` moves it on instead of sleeping and sets ``stop`` once
    ``stop_at`` is reached, so the daemon's outer loop runs through hours in milliseconds."""

    def __init__(self, start: datetime, stop_at: datetime | None = None) -> None:
        self.t = start
        self.stop_at = stop_at
        self.waits: list[float] = []

    def now(self) -> datetime:
        return self.t

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        self.waits.append(seconds)
        self.t += timedelta(seconds=max(seconds, 0.001))
        if self.stop_at is not None and self.t >= self.stop_at:
            stop.set()
        return stop.is_set()


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def write_docs(folder: Path, names: tuple[str, ...] = TINY_DOCS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(SAMPLE_CORPUS / name, folder / name)
    return folder


@pytest.fixture(scope="session")
def tiny_corpus_dir(tmp_path_factory: pytest.TempPathFactory, model_cache_dir: Path) -> Path:
    """A data directory with three sample documents ingested (shared: use ``tiny_settings``)."""
    if "dir" not in _CACHE:
        root = tmp_path_factory.mktemp("tiny-corpus")
        data_dir = root / "data"
        settings = load_settings(data_dir=data_dir, model_cache_dir=model_cache_dir)
        assert ingest_paths(settings, [write_docs(root / "docs")]).added == len(TINY_DOCS)
        _CACHE["dir"] = data_dir
    return _CACHE["dir"]


@pytest.fixture
def tiny_settings(tiny_corpus_dir: Path, tmp_path: Path) -> Settings:
    """Settings on a private copy of the tiny corpus."""
    target = tmp_path / "data"
    shutil.copytree(tiny_corpus_dir, target)
    return load_settings(data_dir=target)
