"""SSRF guard: the fetcher follows URLs that came from the web, so a page (or a search result) can
point it at the cloud metadata endpoint, the router or a service on localhost. Every hop of every fetch
is checked here before anything connects, and again at connect time (tools/web/transport.py), which
connects only to the addresses it vetted itself, so a DNS answer that changes in between cannot slip
through (DNS rebinding).

Refused unless ``allow_private``: loopback, private (RFC 1918, IPv6 ULA), link-local (169.254/16 with
the metadata endpoints, fe80::/10), multicast, reserved, unspecified, carrier-grade NAT (100.64/10),
IPv6 site-local, anything else that is not globally routable, and IPv6 forms that embed such an IPv4
address (IPv4-mapped, 6to4, Teredo, NAT64). A host refuses when ANY of its addresses does.
``allowed_networks`` lets chosen networks through (an intranet; the tests' loopback server).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from sleuth.tools.web.pages import PageFetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

ALLOWED_SCHEMES = frozenset({"http", "https"})
MAX_URL_CHARS = 4096
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_HINT = "(SSRF guard); set web_allow_private=true to allow"


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IP literals, including odd forms like 2852039166, included)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_class(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address ("a link-local address"), or None when it is one."""
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        inner = address_class(embedded)
        return f"{inner} (embedded in {ip})" if inner else None
    checks = (
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.version == 4 and ip in _CGNAT, "a carrier-grade NAT (shared) address"),
        (ip.version == 6 and ip.is_site_local, "an IPv6 site-local address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (not ip.is_global, "a non-public address"),
    )
    return next((name for hit, name in checks if hit), None)


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if ip.version != 6:
        return None
    assert isinstance(ip, ipaddress.IPv6Address)
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client address
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True)
class SsrfPolicy:
    allow_private: bool = False
    allowed_networks: tuple[str, ...] = ()
    _networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        nets = tuple(ipaddress.ip_network(n, strict=False) for n in self.allowed_networks)
        object.__setattr__(self, "_networks", nets)

    def refusal(self, host: str, address: str) -> str | None:
        """The one-line refusal for connecting to ``address`` (which ``host`` resolved to), or None."""
        if self.allow_private:
            return None
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
        if any(ip in net for net in self._networks):
            return None
        why = address_class(ip)
        if why is None:
            return None
        if host.strip("[]") == address:
            return f"refused: {address} is {why} {_HINT}"
        return f"refused: {host} resolves to {address}, {why} {_HINT}"


def parse_fetch_url(url: str) -> httpx.URL:
    """An absolute http(s) URL without credentials or fragment, else ``PageFetchError``."""
    if len(url) > MAX_URL_CHARS:
        raise PageFetchError(f"invalid URL: longer than {MAX_URL_CHARS} characters", "invalid_url")
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, ValueError) as e:
        raise PageFetchError(f"invalid URL: {e}", "invalid_url") from e
    if parsed.scheme not in ALLOWED_SCHEMES:
        scheme = parsed.scheme or "(none)"
        raise PageFetchError(f"refused: scheme {scheme} is not http or https", "invalid_url")
    if parsed.userinfo:
        raise PageFetchError("refused: URL carries credentials (user:password@)", "invalid_url")
    if not parsed.host:
        raise PageFetchError("invalid URL: no host", "invalid_url")
    return parsed.copy_with(fragment=None)


def default_port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


class SsrfGuard:
    """Resolves a host and returns its addresses only when the policy allows every one of them."""

    def __init__(self, policy: SsrfPolicy, resolver: Resolver = system_resolver) -> None:
        self.policy = policy
        self._resolve = resolver

    def vetted_addresses(self, host: str, port: int) -> list[str]:
        try:
            addresses = self._resolve(host, port)
        except (OSError, UnicodeError) as e:
            raise PageFetchError(
                f"cannot resolve host {host}: {getattr(e, 'strerror', None) or e}", "network"
            ) from e
        if not addresses:
            raise PageFetchError(f"cannot resolve host {host}: no addresses", "network")
        for address in addresses:
            reason = self.policy.refusal(host, address)
            if reason:
                raise PageFetchError(reason, "refused")
        return addresses

    async def avetted_addresses(self, host: str, port: int, timeout: float | None = None) -> list[str]:
        """``vetted_addresses`` off the event loop (getaddrinfo blocks), bounded by ``timeout``."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(None, self.vetted_addresses, host, port)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError as e:
            raise PageFetchError(f"cannot resolve host {host}: timed out", "timeout", transient=True) from e
