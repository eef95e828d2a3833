"""SearXNG, Tavily and Brave adapters against loopback endpoints that speak their wire formats."""

from __future__ import annotations

import json
import socket

import pytest

from sleuth.tools.errors import ConfigError, SearchError
from sleuth.tools.web.search_backends import (
    WEB_SEARCH_BACKENDS,
    BraveSearch,
    SearxngSearch,
    TavilySearch,
    WebSearchBackend,
    make_web_search,
)
from tests.fakes.web_server import SEARCH_API_KEY, TestSite

FAST = {"timeout_s": 2.0, "backoff_initial_s": 0.01}


def test_searxng_json_api(site: TestSite) -> None:
    backend = make_web_search("searxng.v1", site.url("/searxng"), None, **FAST)
    results = backend.search("rank fusion", k=5)
    assert isinstance(backend, SearxngSearch) and isinstance(backend, WebSearchBackend)
    assert [r.url for r in results] == [f"https://example.org/{i}" for i in range(5)]
    assert results[0].title == "rank fusion result 0" and results[0].snippet == "about rank fusion"
    assert results[0].engine == "searxng:bing" and results[1].engine == "searxng:duckduckgo"
    [request] = site.requests
    assert request.query == {"q": ["rank fusion"], "format": ["json"]}


def test_searxng_drops_non_http_results(site: TestSite) -> None:
    results = SearxngSearch(site.url("/searxng"), None, **FAST).search("q", k=50)
    assert len(results) == 12 and all(r.url.startswith("https://") for r in results)


def test_tavily_posts_the_key_and_query(site: TestSite) -> None:
    backend = make_web_search("tavily.v1", site.url("/tavily"), SEARCH_API_KEY, **FAST)
    results = backend.search("hybrid search", k=3)
    assert isinstance(backend, TavilySearch)
    assert [(r.url, r.snippet, r.engine) for r in results] == [
        (f"https://tavily.example/{i}", f"snippet {i}", "tavily") for i in range(3)
    ]
    body = json.loads(site.requests[0].body)
    assert body["api_key"] == SEARCH_API_KEY and body["query"] == "hybrid search" and body["max_results"] == 3


def test_brave_sends_the_subscription_token(site: TestSite) -> None:
    backend = make_web_search("brave.v1", site.url("/brave"), SEARCH_API_KEY, **FAST)
    results = backend.search("bm25", k=4)
    assert isinstance(backend, BraveSearch)
    assert [r.url for r in results] == [f"https://brave.example/{i}" for i in range(4)]
    assert results[0].snippet == "bm25 0"  # Brave's <strong> highlighting is stripped
    assert site.requests[0].query["count"] == ["4"]


@pytest.mark.parametrize(("name", "prefix"), [("tavily.v1", "/tavily"), ("brave.v1", "/brave")])
def test_bad_api_key_is_one_line_with_a_hint(site: TestSite, name: str, prefix: str) -> None:
    backend = make_web_search(name, site.url(prefix), "wrong-key", **FAST)
    with pytest.raises(SearchError) as err:
        backend.search("q", k=3)
    assert str(err.value) == f"{name} search failed: HTTP 401 Unauthorized (check web_search_api_key)"
    assert len(site.requests) == 1  # a 4xx is not retried


def test_searxng_without_json_format_explains_the_fix(site: TestSite) -> None:
    backend = SearxngSearch(site.url("/searxng-no-json"), None, **FAST)
    with pytest.raises(SearchError, match="HTTP 404"):
        backend.search("q")
    # a SearXNG with json disabled answers 403 to format=json
    site.fail_next("/searxng/search", 403)
    with pytest.raises(SearchError, match="add json to search.formats"):
        SearxngSearch(site.url("/searxng"), None, **FAST).search("q")


@pytest.mark.parametrize("status", [429, 502, 503])
def test_transient_statuses_are_retried(site: TestSite, status: int) -> None:
    site.fail_next("/searxng/search", status)
    results = SearxngSearch(site.url("/searxng"), None, **FAST).search("q", k=2)
    assert len(results) == 2 and site.hits("/searxng/search") == 2


def test_persistent_server_error_gives_up(site: TestSite) -> None:
    site.fail_next("/tavily/search", 500, 500, 500, 500)
    with pytest.raises(SearchError, match=r"^tavily.v1 search failed: HTTP 500"):
        TavilySearch(site.url("/tavily"), SEARCH_API_KEY, max_attempts=3, **FAST).search("q")
    assert site.hits("/tavily/search") == 3


def test_unreachable_backend_is_a_search_error() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(
        SearchError, match=f"searxng.v1 search at http://127.0.0.1:{port} failed: ConnectError"
    ):
        SearxngSearch(f"http://127.0.0.1:{port}", None, **FAST).search("q")


@pytest.mark.parametrize("prefix", ["/weird", "/notjson"])
def test_unexpected_response_is_a_search_error(site: TestSite, prefix: str) -> None:
    with pytest.raises(SearchError, match="^searxng.v1 search returned an unexpected response"):
        SearxngSearch(site.url(prefix), None, **FAST).search("q")


def test_registry_and_configuration_errors() -> None:
    assert sorted(WEB_SEARCH_BACKENDS) == ["brave.v1", "searxng.v1", "tavily.v1"]
    with pytest.raises(ConfigError, match="unknown web search backend 'google'"):
        make_web_search("google", "http://x")
    with pytest.raises(ConfigError, match="needs web_search_url"):
        make_web_search("searxng.v1", None)
    with pytest.raises(ConfigError, match="tavily.v1 needs web_search_api_key"):
        make_web_search("tavily.v1", None, None)
    assert make_web_search("brave.v1", None, "k").base_url == "https://api.search.brave.com"  # type: ignore[attr-defined]


def test_empty_query_asks_nothing(site: TestSite) -> None:
    assert SearxngSearch(site.url("/searxng"), None).search("  ") == []
    assert site.requests == []
