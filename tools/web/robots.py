"""robots.txt, fetched once per origin through the same guarded fetcher and cached (RFC 9309):
a 4xx (missing) allows everything, a 5xx or an unreachable robots.txt disallows the site, a
robots.txt larger than 500 KiB is read up to that size."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.robotparser import RobotFileParser

import httpx
import structlog

from sleuth.tools.web.pages import PageFetchError

log = structlog.get_logger(__name__)

ROBOTS_MAX_BYTES = 500 * 1024
ROBOTS_TTL_S = 24 * 3600.0


@dataclass(frozen=True)
class RobotsRules:
    """The verdict for one origin: a parsed robots.txt, or allow-all / disallow-all with a reason."""

    parser: RobotFileParser | None
    allow_all: bool
    why: str = ""

    def allows(self, user_agent: str, url: str) -> bool:
        if self.parser is None:
            return self.allow_all
        return self.parser.can_fetch(user_agent, url)

    def crawl_delay(self, user_agent: str) -> float | None:
        delay = self.parser.crawl_delay(user_agent) if self.parser is not None else None
        return float(delay) if delay is not None else None


def parse_robots(body: bytes) -> RobotsRules:
    parser = RobotFileParser()
    parser.parse(body[:ROBOTS_MAX_BYTES].decode("utf-8", errors="replace").splitlines())
    return RobotsRules(parser, allow_all=False)


def rules_after_failure(err: PageFetchError) -> RobotsRules:
    # 4xx means "no robots.txt"; 429 means "come back later", so it counts as unreachable (as Google does).
    if err.kind == "http" and err.status is not None and 400 <= err.status < 500 and err.status != 429:
        return RobotsRules(None, allow_all=True, why=f"no robots.txt (HTTP {err.status})")
    if err.kind in ("refused", "invalid_url", "redirect", "content_type", "binary", "too_large"):
        # The page's own fetch is still guarded; a robots.txt we will not read says nothing.
        return RobotsRules(None, allow_all=True, why=f"robots.txt unusable ({err})")
    return RobotsRules(
        None, allow_all=False, why=f"robots.txt unreachable ({err}); treating the site as disallowed"
    )


# Fetches ``{origin}/robots.txt``: returns its body, or raises PageFetchError.
RobotsLoader = Callable[[str], Awaitable[bytes]]


class RobotsCache:
    """Per-origin robots rules, fetched at most once at a time per origin, kept ``ttl_s`` seconds."""

    def __init__(self, user_agent: str, loader: RobotsLoader, ttl_s: float = ROBOTS_TTL_S) -> None:
        self.user_agent = user_agent
        self._load = loader
        self._ttl_s = ttl_s
        self._rules: dict[str, tuple[float, RobotsRules]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def rules_for(self, url: httpx.URL) -> RobotsRules:
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        lock = self._locks.setdefault(origin, asyncio.Lock())
        async with lock:
            cached = self._rules.get(origin)
            if cached is not None and cached[0] > time.monotonic():
                return cached[1]
            try:
                rules = parse_robots(await self._load(f"{origin}/robots.txt"))
            except PageFetchError as e:
                rules = rules_after_failure(e)
            log.info(
                "fetch.robots_loaded",
                origin=origin,
                allow_all=rules.allow_all,
                parsed=rules.parser is not None,
                why=rules.why or None,
            )
            self._rules[origin] = (time.monotonic() + self._ttl_s, rules)
            return rules

    async def check(self, url: httpx.URL) -> RobotsRules:
        """The origin's rules; raises ``PageFetchError`` (kind "robots") when they disallow ``url``."""
        rules = await self.rules_for(url)
        if not rules.allows(self.user_agent, str(url)):
            why = rules.why or f"Disallow rule for {self.user_agent.split('/')[0]}"
            raise PageFetchError(f"blocked by robots.txt of {url.host}: {why}", "robots")
        return rules
