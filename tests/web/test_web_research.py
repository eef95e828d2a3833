"""Search -> fetch through the cache -> index as web documents -> one ranking with the local corpus,
on real DuckDB, Chroma and BM25 files and the bundled embedding model."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from sleuth.settings import default_settings
from sleuth.tools.corpus.ingest import ingest_paths
from sleuth.tools.corpus.local_corpus import LocalCorpus
from sleuth.tools.embeddings import MiniLMEmbedder
from sleuth.tools.protocols import SearchBackend
from sleuth.tools.web import (
    FetchedPage,
    MixedSearch,
    PageCache,
    WebCorpus,
    WebFetcher,
    WebGatherer,
    web_doc_id,
)
from sleuth.wiring import chunk_size, ingest_options
from tests.fakes.web_server import TestSite
from tests.web.conftest import FAST

NOTES = {
    "chunking.md": "# Chunking strategies\n\nSplit documents into overlapping chunks of about a thousand "
    "characters so each passage fits the embedding model and citations can point at a span.\n",
    "vector-databases.md": "# Vector databases\n\nA vector database stores embeddings and answers nearest "
    "neighbour queries with an approximate index such as HNSW.\n",
    "bm25.md": "# BM25\n\nBM25 scores documents by term frequency with saturation and inverse document "
    "frequency, normalised by document length.\n",
}


@pytest.fixture
def local(tmp_path: Path, model_cache_dir: Path) -> LocalCorpus:
    notes = tmp_path / "notes"
    notes.mkdir()
    for name, text in NOTES.items():
        (notes / name).write_text(text)
    corpus = LocalCorpus(tmp_path / "data", MiniLMEmbedder(model_cache_dir))
    ingest_paths(corpus, [notes], ingest_options(default_settings()))
    return corpus


@pytest.fixture
def gatherer(local: LocalCorpus) -> Iterator[WebGatherer]:
    with WebFetcher(replace(FAST, deadline_s=2.0)) as fetcher:
        yield WebGatherer(
            fetcher,
            PageCache(local.store.path),
            WebCorpus(local, **chunk_size()),
            cache_ttl_s=3600,
            failure_ttl_s=600,
        )


def test_search_gather_and_rank_web_with_local(
    site: TestSite, local: LocalCorpus, gatherer: WebGatherer
) -> None:
    generation = local.store.generation()
    urls = [
        site.url(p) for p in ("/article", "/doc.pdf", "/missing", "/to-metadata", "/huge", "/article#top")
    ]
    report = gatherer.gather(urls)

    assert [r.ok for r in report.results] == [True, True, False, False, False]  # the #top duplicate folded
    assert {f.kind for f in report.failures} == {"http", "refused", "too_large"}
    assert (report.fetched, report.from_cache, len(report.indexed_doc_ids)) == (
        2,
        0,
        2,
    )  # refusals are no fetch
    assert local.store.generation() == generation  # the local BM25 snapshot needs no rebuild

    search = MixedSearch(local, gatherer.corpus)
    assert isinstance(search, SearchBackend)  # drops into ResearchDeps.search
    top = search.search("reciprocal rank fusion of several ranked lists", k=5)
    web = [p for p in top if p.origin == "web"]
    assert top[0].origin == "web" and top[0].source == site.url("/article")
    assert top[0].fetched_at == report.pages[0].fetched_at
    for p in web:  # the cited span resolves into the stored page text
        assert local.document_text(p.doc_id)[p.start : p.end] == p.text
        assert p.doc_id == web_doc_id(p.source)
    local_top = search.search("overlapping chunks of a thousand characters", k=3)
    assert local_top[0].origin == "local" and local_top[0].title == "Chunking strategies"
    assert local_top[0].fetched_at is None


def test_repeated_gather_is_served_from_the_cache(site: TestSite, gatherer: WebGatherer) -> None:
    urls = [site.url(p) for p in ("/article", "/notes.txt", "/missing")]
    first = gatherer.gather(urls)
    requests = len(site.requests)
    second = gatherer.gather(urls)
    assert (first.cache_hit_rate, second.cache_hit_rate) == (0.0, 1.0)
    assert len(site.requests) == requests  # not even robots.txt again
    assert second.indexed_doc_ids == []  # same content: nothing re-embedded
    assert [r.ok for r in second.results] == [True, True, False] and second.failures[0].from_cache


def test_web_vectors_survive_the_consistency_check_and_a_reopen(
    site: TestSite, local: LocalCorpus, gatherer: WebGatherer, model_cache_dir: Path
) -> None:
    gatherer.gather([site.url("/article")])
    assert local.check_consistency(full=True) == {
        "pending_documents": 0,
        "orphan_vectors": 0,
        "missing_vectors": 0,
    }
    reopened = LocalCorpus(local.data_dir, MiniLMEmbedder(model_cache_dir))
    search = MixedSearch(reopened, WebCorpus(reopened, **chunk_size()))
    [best] = search.search("one over k plus its rank", k=1)
    assert best.origin == "web" and best.fetched_at
    cited = search.get_passage(best.chunk_id)
    assert cited is not None and (cited.source, cited.fetched_at, cited.start, cited.end, cited.text) == (
        best.source,
        best.fetched_at,
        best.start,
        best.end,
        best.text,
    )


def test_origins_narrow_the_search(site: TestSite, local: LocalCorpus, gatherer: WebGatherer) -> None:
    gatherer.gather([site.url("/article")])
    only_local = MixedSearch(local, gatherer.corpus, origins=("local",)).search("rank fusion", k=10)
    only_web = MixedSearch(local, gatherer.corpus, origins=("web",)).search("rank fusion", k=10)
    assert only_local and {p.origin for p in only_local} == {"local"}
    assert only_web and {p.origin for p in only_web} == {"web"}


def test_changed_page_replaces_its_document(
    site: TestSite, local: LocalCorpus, gatherer: WebGatherer
) -> None:
    gatherer.gather([site.url("/article")])
    fresh = WebGatherer(gatherer.fetcher, gatherer.cache, gatherer.corpus, cache_ttl_s=0)
    assert fresh.gather([site.url("/article")]).indexed_doc_ids == []  # refetched, same bytes
    web_docs = [d for d in local.store.documents().values() if d.origin == "web"]
    assert len(web_docs) == 1 and web_docs[0].status == "indexed"


def test_chunks_per_page_can_be_capped(site: TestSite, local: LocalCorpus, gatherer: WebGatherer) -> None:
    capped = WebCorpus(local, **chunk_size(), max_chunks_per_page=2)
    [page] = gatherer.fetcher.fetch_many([site.url("/page/3")])
    assert isinstance(page, FetchedPage) and len(page.text) > 50_000
    [doc_id] = capped.add_pages([page])
    assert len(local.store.chunk_rows([doc_id])) == 2 and len(capped.snapshot().index) == 2
    assert local.document_text(doc_id) == page.text  # the whole text is kept
