"""The bundled sample corpus ingested once per test session (embedding it takes tens of seconds);
tests copy the resulting data directory so each gets private DuckDB/Chroma/checkpoint files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sleuth.settings import Settings, load_settings
from sleuth.wiring import SAMPLE_CORPUS, ingest_paths

_CACHE: dict[str, Path] = {}


@pytest.fixture(scope="session")
def sample_data_dir(tmp_path_factory: pytest.TempPathFactory, model_cache_dir: Path) -> Path:
    """A data directory holding the ingested sample corpus (shared: copy it before writing to it)."""
    if "dir" not in _CACHE:
        data_dir = tmp_path_factory.mktemp("sample-corpus") / "data"
        report = ingest_paths(
            load_settings(data_dir=data_dir, model_cache_dir=model_cache_dir), [SAMPLE_CORPUS]
        )
        assert report.added >= 20 and not report.skipped
        _CACHE["dir"] = data_dir
    return _CACHE["dir"]


def private_copy(source: Path, target: Path, **overrides: object) -> Settings:
    """Settings on a private copy of an ingested data directory."""
    shutil.copytree(source, target)
    return load_settings(data_dir=target, **overrides)
