"""Web search behind one small Protocol: SearXNG (self-hosted, JSON API), Tavily and Brave Search.

Each backend answers ``search(query, k) -> list[WebResult]`` with http(s) URLs only, deduplicated, at
most ``k``. Failures raise ``SearchError`` with a one-line reason; 429 and 5xx are retried (honouring
Retry-After, capped). Backends are picked by versioned name from ``WEB_SEARCH_BACKENDS``.

The search endpoint is configured by the user and trusted: it is not put through the SSRF guard (a
SearXNG on localhost is the common case). The result URLs are not trusted; the fetcher guards them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import httpx
import structlog

from sleuth.tools.errors import ConfigError, SearchError, SearchUnavailable
from sleuth.tools.http.retry import RetryPolicy, retry_after_s

log = structlog.get_logger(__name__)

TAVILY_URL = "https://api.tavily.com"
BRAVE_URL = "https://api.search.brave.com"
BRAVE_MAX_COUNT = 20
_TAGS = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class WebResult:
    url: str
    title: str
    snippet: str
    engine: str


@runtime_checkable
class WebSearchBackend(Protocol):
    name: str

    def search(self, query: str, k: int = 10) -> list[WebResult]: ...


class _Transient(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class _HttpSearch:
    """The shared part: a client with timeouts, retries on 429/5xx and connect timeouts, one-line errors."""

    name = "abstract"

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout_s: float = 15.0,
        max_attempts: int = 3,
        backoff_initial_s: float = 0.5,
        user_agent: str = "Sleuth/0.1 (research agent)",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self._client = httpx.Client(timeout=timeout_s, headers={"User-Agent": user_agent})
        policy = RetryPolicy(max_attempts=max_attempts, backoff_s=(backoff_initial_s, backoff_initial_s * 8))
        self._retrying = policy.retrying(
            transient=lambda e: isinstance(e, _Transient | httpx.ConnectTimeout),
            hint=lambda e: retry_after_s(e.response.headers) if isinstance(e, _Transient) else None,
            event="search.retry",
            backend=self.name,
        )

    def close(self) -> None:
        self._client.close()

    def search(self, query: str, k: int = 10) -> list[WebResult]:
        if not query.strip() or k <= 0:
            return []
        try:
            response = self._retrying(self._checked, query, k)
            payload = response.json()
            results = _clean(self._parse(payload), k)
        except _Transient as e:
            raise SearchUnavailable(f"{self.name} search failed: {_status_line(e.response)}") from e
        except httpx.HTTPError as e:
            reason = f"{type(e).__name__}: {e}"
            raise SearchUnavailable(f"{self.name} search at {self.base_url} failed: {reason}") from e
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise SearchError(
                f"{self.name} search returned an unexpected response: {type(e).__name__}: {e}"
            ) from e
        log.info("search.completed", backend=self.name, results=len(results))
        return results

    def _checked(self, query: str, k: int) -> httpx.Response:
        response = self._request(query, k)
        if response.status_code == 429 or response.status_code >= 500:
            raise _Transient(response)
        if response.status_code >= 400:
            raise SearchError(self._client_error(response))
        return response

    def _client_error(self, response: httpx.Response) -> str:
        hint = " (check web_search_api_key)" if response.status_code in (401, 403) else ""
        return f"{self.name} search failed: {_status_line(response)}{hint}"

    def _request(self, query: str, k: int) -> httpx.Response:
        raise NotImplementedError

    def _parse(self, payload: Any) -> Iterable[WebResult]:
        raise NotImplementedError


class SearxngSearch(_HttpSearch):
    """SearXNG's JSON API: ``GET {base}/search?q=...&format=json`` (json must be enabled in settings.yml)."""

    name = "searxng.v1"

    def _request(self, query: str, k: int) -> httpx.Response:
        return self._client.get(f"{self.base_url}/search", params={"q": query, "format": "json"})

    def _client_error(self, response: httpx.Response) -> str:
        if response.status_code == 403:
            return (
                f"{self.name} at {self.base_url} refused format=json (HTTP 403): add json to "
                "search.formats in its settings.yml"
            )
        return super()._client_error(response)

    def _parse(self, payload: Any) -> Iterable[WebResult]:
        for item in payload["results"]:
            yield WebResult(
                item.get("url", ""),
                item.get("title", ""),
                item.get("content", ""),
                f"searxng:{item.get('engine', '?')}",
            )


class TavilySearch(_HttpSearch):
    """Tavily: ``POST {base}/search`` with the API key in the JSON body (and as a bearer token)."""

    name = "tavily.v1"

    def _request(self, query: str, k: int) -> httpx.Response:
        body = {"api_key": self.api_key, "query": query, "max_results": k, "search_depth": "basic"}
        return self._client.post(
            f"{self.base_url}/search", json=body, headers={"Authorization": f"Bearer {self.api_key}"}
        )

    def _parse(self, payload: Any) -> Iterable[WebResult]:
        for item in payload["results"]:
            yield WebResult(item.get("url", ""), item.get("title", ""), item.get("content", ""), "tavily")


class BraveSearch(_HttpSearch):
    """Brave: ``GET {base}/res/v1/web/search?q=...&count=k`` with ``X-Subscription-Token``."""

    name = "brave.v1"

    def _request(self, query: str, k: int) -> httpx.Response:
        headers = {"X-Subscription-Token": self.api_key or "", "Accept": "application/json"}
        params = {"q": query, "count": min(k, BRAVE_MAX_COUNT)}
        return self._client.get(f"{self.base_url}/res/v1/web/search", params=params, headers=headers)

    def _parse(self, payload: Any) -> Iterable[WebResult]:
        for item in (payload.get("web") or {}).get("results", []):
            snippet = _TAGS.sub("", item.get("description", ""))  # Brave marks matches with <strong>
            yield WebResult(item.get("url", ""), item.get("title", ""), snippet, "brave")


def _status_line(response: httpx.Response) -> str:
    return f"HTTP {response.status_code} {response.reason_phrase}".strip()


def _clean(results: Iterable[WebResult], k: int) -> list[WebResult]:
    """http(s) results only, each URL once, at most ``k``."""
    seen: set[str] = set()
    kept: list[WebResult] = []
    for result in results:
        if not result.url.startswith(("http://", "https://")) or result.url in seen:
            continue
        seen.add(result.url)
        kept.append(result)
        if len(kept) == k:
            break
    return kept


def _make_searxng(url: str | None, api_key: str | None, **options: Any) -> WebSearchBackend:
    if not url:
        raise ConfigError(
            "web search backend searxng.v1 needs web_search_url (your SearXNG, e.g. http://localhost:8888)"
        )
    return SearxngSearch(url, api_key, **options)


def _make_keyed(cls: type[_HttpSearch], default_url: str) -> Callable[..., WebSearchBackend]:
    def make(url: str | None, api_key: str | None, **options: Any) -> WebSearchBackend:
        if not api_key:
            raise ConfigError(f"web search backend {cls.name} needs web_search_api_key")
        return cls(url or default_url, api_key, **options)

    return make


WEB_SEARCH_BACKENDS: dict[str, Callable[..., WebSearchBackend]] = {
    "searxng.v1": _make_searxng,
    "tavily.v1": _make_keyed(TavilySearch, TAVILY_URL),
    "brave.v1": _make_keyed(BraveSearch, BRAVE_URL),
}


def make_web_search(
    name: str, url: str | None = None, api_key: str | None = None, **options: Any
) -> WebSearchBackend:
    """The backend called ``name`` ("searxng.v1", "tavily.v1", "brave.v1"). With none configured the
    research runs locally (sleuth/research_app.py decides), so there is no "no search" backend.
    ``options``: timeout_s, max_attempts, backoff_initial_s, user_agent."""
    try:
        build = WEB_SEARCH_BACKENDS[name]
    except KeyError:
        raise ConfigError(
            f"unknown web search backend {name!r}; choose one of {sorted(WEB_SEARCH_BACKENDS)}"
        ) from None
    return build(url, api_key, **options)
