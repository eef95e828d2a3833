"""Fixtures for the web tools: a hostile loopback site, a fetcher allowed to reach only that site's
address, and a record of every socket connect so tests can prove nothing else was attempted."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from sleuth.tools.web.fetcher import FetchConfig, WebFetcher
from tests.fakes.web_server import TestSite

# Short limits keep every failure case well under a second or two.
FAST = FetchConfig(
    deadline_s=1.5,
    connect_timeout_s=1.0,
    read_timeout_s=1.0,
    max_bytes=1024 * 1024,
    politeness_s=0.0,
    per_host_concurrency=8,
    backoff_initial_s=0.02,
    allowed_networks=("127.0.0.1/32",),  # the test site only: every other private address stays refused
)


@pytest.fixture
def site() -> Iterator[TestSite]:
    with TestSite() as running:
        yield running


@pytest.fixture
def fetcher() -> Iterator[WebFetcher]:
    with WebFetcher(FAST) as f:
        yield f


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Addresses of every socket connect attempted during the test (after conftest's loopback guard)."""
    attempted: list[object] = []
    guarded = socket.socket.connect  # conftest's loopback-only connect

    def recording_connect(self: socket.socket, address: object) -> object:
        attempted.append(address)
        return guarded(self, address)

    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    return attempted
