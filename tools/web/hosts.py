"""Politeness per host: at most ``per_host`` requests in flight to one host, and request starts spaced
``delay_s`` apart (or the site's robots.txt Crawl-delay, capped). Lives on the fetcher's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

MAX_CRAWL_DELAY_S = 10.0  # a robots.txt asking for more would stall a research run


@dataclass
class _Gate:
    slots: asyncio.Semaphore
    spacing: asyncio.Lock = field(default_factory=asyncio.Lock)
    delay_s: float = 0.0
    next_start: float = 0.0


class HostGates:
    def __init__(self, per_host: int, delay_s: float) -> None:
        if per_host < 1:
            raise ValueError("per_host must be >= 1")
        self.per_host = per_host
        self.delay_s = delay_s
        self._gates: dict[str, _Gate] = {}

    def _gate(self, host: str) -> _Gate:
        gate = self._gates.get(host)
        if gate is None:
            gate = self._gates[host] = _Gate(asyncio.Semaphore(self.per_host), delay_s=self.delay_s)
        return gate

    def honour_crawl_delay(self, host: str, crawl_delay_s: float | None) -> None:
        """Space requests to ``host`` by its robots.txt Crawl-delay when that is longer than ours."""
        if crawl_delay_s:
            gate = self._gate(host)
            gate.delay_s = max(self.delay_s, min(float(crawl_delay_s), MAX_CRAWL_DELAY_S))

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Hold one of ``host``'s slots, entered no sooner than its spacing allows."""
        gate = self._gate(host)
        loop = asyncio.get_running_loop()
        async with gate.slots:
            async with gate.spacing:
                wait = gate.next_start - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                gate.next_start = loop.time() + gate.delay_s
            yield
