"""Web research tools: search backends, a guarded fetcher, the page cache, web documents in the corpus
and one ranking over local and web passages. See each module's docstring; the usual wiring is::

    fetcher = WebFetcher(FetchConfig(...))                       # SSRF guard, robots, limits
    gatherer = WebGatherer(fetcher, PageCache(db_path), WebCorpus(local_corpus))
    results = make_web_search("searxng.v1", url).search(query, k=8)
    report = gatherer.gather([r.url for r in results])           # pages + failure records
    passages = MixedSearch(local_corpus, gatherer.corpus).search(query, k=10)
"""

from sleuth.tools.web.fetcher import USER_AGENT, FetchConfig, WebFetcher
from sleuth.tools.web.gather import GatherReport, WebGatherer, canonical_url
from sleuth.tools.web.mixed_search import MixedSearch
from sleuth.tools.web.page_cache import PageCache
from sleuth.tools.web.pages import FetchedPage, FetchFailure, FetchResult, PageFetchError
from sleuth.tools.web.search_backends import (
    WEB_SEARCH_BACKENDS,
    BraveSearch,
    SearxngSearch,
    TavilySearch,
    WebResult,
    WebSearchBackend,
    make_web_search,
)
from sleuth.tools.web.ssrf import SsrfGuard, SsrfPolicy, address_class
from sleuth.tools.web.web_corpus import WebCorpus, web_doc_id

__all__ = [
    "USER_AGENT",
    "WEB_SEARCH_BACKENDS",
    "BraveSearch",
    "FetchConfig",
    "FetchFailure",
    "FetchResult",
    "FetchedPage",
    "GatherReport",
    "MixedSearch",
    "PageCache",
    "PageFetchError",
    "SearxngSearch",
    "SsrfGuard",
    "SsrfPolicy",
    "TavilySearch",
    "WebCorpus",
    "WebFetcher",
    "WebGatherer",
    "WebResult",
    "WebSearchBackend",
    "address_class",
    "canonical_url",
    "web_doc_id",
    "make_web_search",
]
