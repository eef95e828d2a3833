"""Fetch a batch of URLs through the cache and index what came back: the one call the research graph
makes after a web search. Fresh cached pages (and recent failures) are not fetched again; every URL
ends as a page or a failure record in the report, in the order given."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog

from sleuth.tools.web.fetcher import WebFetcher
from sleuth.tools.web.page_cache import FAILURE_TTL_S, PageCache
from sleuth.tools.web.pages import FetchedPage, FetchFailure, FetchResult, PageFetchError
from sleuth.tools.web.ssrf import parse_fetch_url
from sleuth.tools.web.web_corpus import WebCorpus

log = structlog.get_logger(__name__)

CACHE_TTL_S = 24 * 3600.0


@dataclass
class GatherReport:
    results: list[FetchResult]  # one per distinct URL, in input order
    from_cache: int = 0
    fetched: int = 0
    indexed_doc_ids: list[str] = field(default_factory=list)

    @property
    def pages(self) -> list[FetchedPage]:
        return [r for r in self.results if isinstance(r, FetchedPage)]

    @property
    def failures(self) -> list[FetchFailure]:
        return [r for r in self.results if isinstance(r, FetchFailure)]

    @property
    def cache_hit_rate(self) -> float:
        return self.from_cache / len(self.results) if self.results else 0.0


def canonical_url(url: str) -> str:
    """The cache key of a URL: trimmed, fragment dropped (unparseable URLs stay as given and fail)."""
    try:
        return str(parse_fetch_url(url))
    except PageFetchError:
        return url.strip()


class WebGatherer:
    def __init__(
        self,
        fetcher: WebFetcher,
        cache: PageCache,
        corpus: WebCorpus | None = None,
        *,
        cache_ttl_s: float = CACHE_TTL_S,
        failure_ttl_s: float = FAILURE_TTL_S,
    ) -> None:
        self.fetcher = fetcher
        self.cache = cache
        self.corpus = corpus
        self.cache_ttl_s = cache_ttl_s
        self.failure_ttl_s = failure_ttl_s

    def gather(self, urls: Sequence[str], max_concurrency: int | None = None) -> GatherReport:
        distinct = list(dict.fromkeys(canonical_url(u) for u in urls if u.strip()))
        cached = self.cache.get_fresh_many(distinct, self.cache_ttl_s, self.failure_ttl_s)
        missing = [u for u in distinct if u not in cached]
        fetched = dict(zip(missing, self.fetcher.fetch_many(missing, max_concurrency), strict=True))
        self.cache.put_many(fetched.values())
        pages_fetched = sum(
            1 for r in fetched.values() if isinstance(r, FetchedPage)
        )  # refusals are not fetches
        report = GatherReport([cached.get(u) or fetched[u] for u in distinct], len(cached), pages_fetched)
        if self.corpus is not None and report.pages:
            report.indexed_doc_ids = self.corpus.add_pages(report.pages)
        log.info(
            "web.gathered",
            urls=len(distinct),
            from_cache=report.from_cache,
            fetched=report.fetched,
            pages=len(report.pages),
            failures=len(report.failures),
            indexed=len(report.indexed_doc_ids),
        )
        return report
