"""The httpx transport the fetcher uses: httpx's own, with an httpcore network backend that resolves
the host itself, vets every address with the SSRF guard and connects to a vetted IP. TLS still checks
the certificate against the hostname (httpcore passes the URL's host as server_hostname), so pinning
the IP costs nothing in security. Environment proxies are ignored on purpose (``trust_env=False``):
a proxy would do the resolving and the guard could not see where a connection really goes.
"""

from __future__ import annotations

import typing

import httpcore
import httpx

from sleuth.tools.web.pages import PageFetchError
from sleuth.tools.web.ssrf import SsrfGuard


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the guard vetted in this very call."""

    def __init__(self, guard: SsrfGuard, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._guard = guard
        self._inner = inner or httpcore.AnyIOBackend()
        self.connected: list[tuple[str, int]] = []  # (ip, port) of every connection made, for tests

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._guard.avetted_addresses(host, port, timeout)
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:  # the resolver's order: try the next vetted address when one fails
            try:
                stream = await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                failure = e
                continue
            self.connected.append((address, port))
            return stream
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise PageFetchError("refused: unix sockets are not fetched", "refused")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(backend: GuardedNetworkBackend, *, max_connections: int) -> httpx.AsyncHTTPTransport:
    """An ``httpx.AsyncHTTPTransport`` whose connection pool dials through ``backend``.

    httpx offers no public way to pass a network backend, so the pool it built is replaced by an
    identical one that has ours (``_pool`` has been the attribute's name since httpx 0.18;
    tests/web/test_ssrf.py fails loudly if that changes)."""
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=5.0,
        network_backend=backend,
    )
    return transport
