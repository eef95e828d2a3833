"""Test-wide guards: no test reaches beyond loopback; every test gets its own data directory."""

from __future__ import annotations

import ipaddress
import socket
import sys
from pathlib import Path

import pytest
import structlog

from sleuth.tools.llm.openai_chat import forget_endpoints

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Real servers the tests start on loopback (PostgreSQL, Chroma), as fixtures for every test module.
pytest_plugins = ["tests.servers.postgres", "tests.servers.chroma"]

_real_connect = socket.socket.connect


def _loopback_only_connect(self: socket.socket, address: object) -> object:
    if self.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
        host = address[0]
        try:
            allowed = ipaddress.ip_address(host).is_loopback
        except ValueError:
            allowed = host == "localhost"
        if not allowed:
            raise ConnectionRefusedError(f"tests may only connect to loopback, not {host}")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _loopback_only_connect)


@pytest.fixture(autouse=True)
def _fresh_structlog() -> None:
    """CLI tests configure structlog with a level filter; later tests must see every event."""
    yield
    structlog.reset_defaults()


@pytest.fixture(autouse=True)
def _fresh_endpoints() -> None:
    """What one test's scripted server taught the LLM adapter (a downgrade) must not reach the next test,
    whose server may reuse the port."""
    forget_endpoints()


@pytest.fixture(scope="session")
def model_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ONNX conversion of the embedding model per test session."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model_cache_dir: Path) -> Path:
    """Each test gets a private data dir and no ambient LLM/config settings."""
    data_dir = tmp_path / "sleuth-data"
    monkeypatch.setenv("SLEUTH_DATA_DIR", str(data_dir))
    monkeypatch.setenv("SLEUTH_MODEL_CACHE_DIR", str(model_cache_dir))
    for var in ("SLEUTH_CONFIG", "OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return data_dir
