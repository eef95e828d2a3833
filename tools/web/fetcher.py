"""The web fetcher: URL in, ``FetchedPage`` or a recorded ``FetchFailure`` out.

Each fetch follows redirects itself (at most ``max_redirects``, loops detected), and on every hop runs
the SSRF guard before anything connects, then robots.txt, then one guarded HTTP exchange (see
exchange.py for deadline, size cap, content types and retries). Extraction runs in a worker thread.
Nothing in a page is ever acted on: links, refresh tags and text are data.

The work runs on one asyncio loop in a background thread owned by the fetcher, so connection pools,
per-host politeness and the robots cache are shared by every caller; ``fetch``/``fetch_many`` are plain
blocking calls that are safe from any thread. Use it as a context manager (or call ``close``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import structlog

from sleuth.tools.records import content_hash
from sleuth.tools.web.exchange import Budget, Limits, RawResponse, exchange
from sleuth.tools.web.hosts import HostGates
from sleuth.tools.web.pages import (
    FetchedPage,
    FetchFailure,
    FetchResult,
    PageFetchError,
    extract_body,
    sniff_kind,
    utc_timestamp,
)
from sleuth.tools.web.robots import ROBOTS_MAX_BYTES, RobotsCache
from sleuth.tools.web.ssrf import (
    Resolver,
    SsrfGuard,
    SsrfPolicy,
    default_port,
    parse_fetch_url,
    system_resolver,
)
from sleuth.tools.web.transport import GuardedNetworkBackend, guarded_transport

log = structlog.get_logger(__name__)
T = TypeVar("T")

USER_AGENT = "Sleuth/0.1 (+https://github.com/sleuth-research/sleuth; research agent)"


@dataclass(frozen=True)
class FetchConfig:
    """Plain values; sleuth/ maps its settings onto these."""

    deadline_s: float = 20.0  # total wall clock per fetch, all hops and retries (not queueing for a host)
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    concurrency: int = 8  # default for fetch_many; also the connection pool size
    per_host_concurrency: int = 2
    politeness_s: float = 1.0  # spacing between request starts to one host
    respect_robots: bool = True
    allow_private: bool = False
    allowed_networks: tuple[str, ...] = ()
    max_attempts: int = 3
    backoff_initial_s: float = 0.5
    user_agent: str = USER_AGENT

    def limits(self) -> Limits:
        return Limits(
            self.user_agent,
            self.connect_timeout_s,
            self.read_timeout_s,
            self.max_attempts,
            self.backoff_initial_s,
        )


class WebFetcher:
    def __init__(self, config: FetchConfig | None = None, *, resolver: Resolver = system_resolver) -> None:
        self.config = config or FetchConfig()
        self.guard = SsrfGuard(
            SsrfPolicy(self.config.allow_private, tuple(self.config.allowed_networks)), resolver
        )
        self.backend = GuardedNetworkBackend(self.guard)
        self._loop_thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._start_lock = threading.Lock()
        self._client: httpx.AsyncClient | None = None
        self._gates: HostGates | None = None
        self._robots: RobotsCache | None = None

    # --- public, blocking -------------------------------------------------------------------
    def fetch(self, url: str) -> FetchedPage:
        """Fetch one page; raises ``FetchError`` (a ``PageFetchError`` with ``kind``) on failure."""
        return self._run(self._fetch_page(url))

    def fetch_many(self, urls: Sequence[str], max_concurrency: int | None = None) -> list[FetchResult]:
        """One result per URL, in order: a page, or a failure record with its reason."""
        return self._run(self._fetch_many(urls, max_concurrency))

    async def afetch_many(self, urls: Sequence[str], max_concurrency: int | None = None) -> list[FetchResult]:
        """``fetch_many`` for async callers, from any event loop (the work runs on the fetcher's own)."""
        future = asyncio.run_coroutine_threadsafe(
            self._fetch_many(urls, max_concurrency), self._ensure_loop()
        )
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        with self._start_lock:
            loop, thread = self._loop, self._loop_thread
            self._loop = self._loop_thread = None
        client, self._client, self._gates, self._robots = self._client, None, None, None
        if loop is None or thread is None:
            return
        if client is not None:
            asyncio.run_coroutine_threadsafe(client.aclose(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()

    def __enter__(self) -> WebFetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- on the fetcher's loop ----------------------------------------------------------------
    async def _fetch_many(self, urls: Sequence[str], max_concurrency: int | None = None) -> list[FetchResult]:
        slots = asyncio.Semaphore(max_concurrency or self.config.concurrency)

        async def one(url: str) -> FetchResult:
            async with slots:
                try:
                    return await self._fetch_page(url)
                except PageFetchError as e:
                    return FetchFailure.from_error(url, e)

        return list(await asyncio.gather(*(one(url) for url in urls)))

    async def _fetch_page(self, url: str) -> FetchedPage:
        started = asyncio.get_running_loop().time()
        try:
            raw, fetched_at = await self._follow(
                url, robots=self.config.respect_robots, check_type=True, max_bytes=self.config.max_bytes
            )
            kind = raw.kind or sniff_kind(raw.body[:8192])
            title, text, meta = await asyncio.to_thread(extract_body, raw.body, kind, raw.url, raw.charset)
        except PageFetchError as e:
            log.info("fetch.failed", url=url, kind=e.kind, reason=str(e))
            raise
        page = FetchedPage(
            url=url,
            final_url=raw.url,
            status=raw.status,
            content_type=raw.content_type,
            fetched_at=fetched_at,
            body_hash=content_hash(raw.body),
            title=title,
            text=text,
            author=meta.get("author"),
            date=meta.get("date"),
            kind=kind,
        )
        seconds = asyncio.get_running_loop().time() - started
        log.info(
            "fetch.completed", url=url, final_url=raw.url, bytes=len(raw.body), seconds=round(seconds, 3)
        )
        return page

    async def _follow(
        self, url: str, *, robots: bool, check_type: bool, max_bytes: int
    ) -> tuple[RawResponse, str]:
        """The final response after redirects, and when it was fetched."""
        client, gates, robots_cache = self._session()
        budget = Budget(self.config.deadline_s)
        chain: list[str] = []
        current = url
        for _ in range(self.config.max_redirects + 1):
            target = parse_fetch_url(current)
            if str(target) in chain:
                raise PageFetchError(f"redirect loop: {' -> '.join([*chain, str(target)])}", "redirect")
            chain.append(str(target))
            await self.guard.avetted_addresses(
                target.host, default_port(target), self.config.connect_timeout_s
            )
            if robots:
                rules = await robots_cache.check(target)
                gates.honour_crawl_delay(target.host, rules.crawl_delay(self.config.user_agent))
            fetched_at = utc_timestamp()
            raw = await exchange(
                client,
                target,
                budget=budget,
                gates=gates,
                limits=self.config.limits(),
                max_bytes=max_bytes,
                check_type=check_type,
            )
            if raw.location is None:
                return raw, fetched_at
            current = str(target.join(raw.location))
        raise PageFetchError(f"too many redirects (more than {self.config.max_redirects})", "redirect")

    async def _load_robots(self, robots_url: str) -> bytes:
        raw, _ = await self._follow(robots_url, robots=False, check_type=False, max_bytes=ROBOTS_MAX_BYTES)
        return raw.body

    def _session(self) -> tuple[httpx.AsyncClient, HostGates, RobotsCache]:
        """Client, gates and robots cache, created on first use on the fetcher's loop."""
        if self._client is None or self._gates is None or self._robots is None:
            transport = guarded_transport(self.backend, max_connections=max(self.config.concurrency, 1) * 2)
            self._client = httpx.AsyncClient(transport=transport, trust_env=False)
            self._gates = HostGates(self.config.per_host_concurrency, self.config.politeness_s)
            self._robots = RobotsCache(self.config.user_agent, self._load_robots)
        return self._client, self._gates, self._robots

    # --- the background loop ------------------------------------------------------------------
    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self._ensure_loop()
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, loop)
        return future.result()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._start_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="sleuth-web-fetcher", daemon=True)
                thread.start()
                self._loop, self._loop_thread = loop, thread
            return self._loop
