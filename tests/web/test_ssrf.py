"""The SSRF guard: address classes, URL shape, and refusals before any connection — also after a
redirect and when DNS answers differently at connect time (rebinding)."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

import httpcore
import pytest

from sleuth.tools.web.fetcher import FetchConfig, WebFetcher
from sleuth.tools.web.pages import PageFetchError
from sleuth.tools.web.ssrf import SsrfGuard, SsrfPolicy, address_class, parse_fetch_url
from sleuth.tools.web.transport import guarded_transport
from tests.fakes.web_server import TestSite
from tests.web.conftest import FAST


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fd00:ec2::254", "private"),  # IPv6 ULA (AWS's IPv6 metadata endpoint)
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("240.0.0.1", "reserved"),
        ("fec0::1", "site-local"),
        ("::ffff:169.254.169.254", "link-local"),  # IPv4-mapped
        ("::ffff:127.0.0.1", "loopback"),
        ("2002:a00:1::", "private"),  # 6to4 around 10.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 around 169.254.169.254
        ("192.0.2.10", "private"),  # documentation range: never a real server
    ],
)
def test_non_public_addresses_are_classified(address: str, expected: str) -> None:
    why = address_class(ipaddress.ip_address(address))
    assert why is not None and expected in why


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert address_class(ipaddress.ip_address(address)) is None


def test_refusal_reason_is_one_clear_line() -> None:
    policy = SsrfPolicy()
    assert policy.refusal("169.254.169.254", "169.254.169.254") == (
        "refused: 169.254.169.254 is a link-local address (SSRF guard); set web_allow_private=true to allow"
    )
    named = policy.refusal("metadata.internal", "10.1.2.3")
    assert named is not None and named.startswith(
        "refused: metadata.internal resolves to 10.1.2.3, a private"
    )
    assert SsrfPolicy(allow_private=True).refusal("x", "169.254.169.254") is None
    assert SsrfPolicy(allowed_networks=("10.0.0.0/8",)).refusal("x", "10.9.9.9") is None
    assert SsrfPolicy(allowed_networks=("10.0.0.0/8",)).refusal("x", "192.168.0.1") is not None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.org/file", "scheme ftp"),
        ("file:///etc/passwd", "scheme file"),
        ("gopher://example.org/", "scheme gopher"),
        ("http://user:secret@example.org/", "credentials"),
        ("http:///nohost", "no host"),
        ("https://example.org/" + "a" * 5000, "longer than"),
    ],
)
def test_urls_of_the_wrong_shape_are_refused(url: str, reason: str) -> None:
    with pytest.raises(PageFetchError, match=reason) as err:
        parse_fetch_url(url)
    assert err.value.kind == "invalid_url"


def test_fragment_is_dropped() -> None:
    assert str(parse_fetch_url(" https://example.org/a?b=1#section ")) == "https://example.org/a?b=1"


def test_a_host_is_refused_when_any_of_its_addresses_is_private() -> None:
    guard = SsrfGuard(SsrfPolicy(), resolver=lambda host, port: ["93.184.215.14", "10.0.0.5"])
    with pytest.raises(PageFetchError, match="resolves to 10.0.0.5, a private address") as err:
        guard.vetted_addresses("mixed.example", 80)
    assert err.value.kind == "refused"


def test_unresolvable_host_is_a_network_failure() -> None:
    def fail(host: str, port: int) -> list[str]:
        raise OSError(-2, "Name or service not known")

    with pytest.raises(PageFetchError, match="cannot resolve host nowhere.invalid") as err:
        SsrfGuard(SsrfPolicy(), resolver=fail).vetted_addresses("nowhere.invalid", 80)
    assert err.value.kind == "network"


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/admin",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://2852039166/",  # 169.254.169.254 as one decimal number
        "http://0x7f.1/",  # 127.0.0.1 in hex shorthand
        "http://localhost/",
    ],
)
def test_direct_fetch_of_internal_addresses_is_refused_without_connecting(
    url: str, connects: list[object]
) -> None:
    with (
        WebFetcher(FetchConfig(politeness_s=0)) as fetcher,
        pytest.raises(PageFetchError, match="SSRF guard") as err,
    ):
        fetcher.fetch(url)
    assert err.value.kind == "refused"
    assert connects == [] and fetcher.backend.connected == []


@pytest.mark.parametrize(
    ("path", "target"), [("/to-metadata", "169.254.169.254"), ("/to-private", "10.0.0.1")]
)
def test_redirect_to_internal_address_is_refused_before_connecting(
    site: TestSite, fetcher: WebFetcher, connects: list[object], path: str, target: str
) -> None:
    [result] = fetcher.fetch_many([site.url(path)])
    assert not result.ok and result.kind == "refused"
    assert result.reason.startswith(f"refused: {target} is a ")
    assert site.paths() == ["/robots.txt", path]
    assert {addr[0] for addr in connects} == {"127.0.0.1"}  # type: ignore[index]
    assert {ip for ip, _ in fetcher.backend.connected} == {"127.0.0.1"}


def test_loopback_is_refused_by_default_and_allowed_explicitly(
    site: TestSite, connects: list[object]
) -> None:
    strict = WebFetcher(replace(FAST, allowed_networks=()))
    with strict, pytest.raises(PageFetchError, match="127.0.0.1 is a loopback address"):
        strict.fetch(site.url("/article"))
    assert connects == [] and site.requests == []
    with WebFetcher(replace(FAST, allowed_networks=(), allow_private=True)) as permissive:
        assert permissive.fetch(site.url("/article")).title == "Reciprocal rank fusion explained"


def test_dns_rebinding_is_caught_at_connect_time(site: TestSite, connects: list[object]) -> None:
    """The name resolves to the allowed site for the pre-flight check and to 10.0.0.1 a moment later:
    the connection is refused because it uses only the addresses vetted in the same call."""
    answers = iter([["127.0.0.1"], ["10.0.0.1"]])
    with WebFetcher(
        replace(FAST, respect_robots=False), resolver=lambda host, port: next(answers)
    ) as fetcher:
        [result] = fetcher.fetch_many([f"http://rebind.test:{site.port}/article"])
    assert not result.ok and result.kind == "refused"
    assert "rebind.test resolves to 10.0.0.1" in result.reason
    assert connects == [] and site.requests == []


def test_hostnames_are_connected_through_the_vetted_address(site: TestSite) -> None:
    resolved: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        resolved.append(host)
        return ["127.0.0.1"]

    with WebFetcher(FAST, resolver=resolver) as fetcher:
        page = fetcher.fetch(f"http://news.test:{site.port}/article")
    assert page.final_url == f"http://news.test:{site.port}/article"
    assert site.requests[-1].headers["host"] == f"news.test:{site.port}"  # the name, not the IP, is sent
    assert set(resolved) == {"news.test"}


def test_guarded_transport_replaces_httpx_pool() -> None:
    """guarded_transport swaps httpx's private ``_pool``; fail loudly if httpx renames it."""
    from sleuth.tools.web.transport import GuardedNetworkBackend

    backend = GuardedNetworkBackend(SsrfGuard(SsrfPolicy()))
    transport = guarded_transport(backend, max_connections=4)
    assert isinstance(transport._pool, httpcore.AsyncConnectionPool)
    assert transport._pool._network_backend is backend
