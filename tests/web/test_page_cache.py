"""The web page cache in DuckDB: fresh pages and recent failures come back, stale ones do not."""

from __future__ import annotations

from pathlib import Path

from sleuth.tools.db.connection import open_duckdb
from sleuth.tools.web.page_cache import PageCache
from sleuth.tools.web.pages import FetchedPage, FetchFailure


def page(
    url: str = "https://example.org/a", fetched_at: str = "2030-01-01T00:00:00Z", text: str = "body"
) -> FetchedPage:
    return FetchedPage(
        url=url,
        final_url=url + "?final",
        status=200,
        content_type="text/html; charset=utf-8",
        fetched_at=fetched_at,
        body_hash="ab" * 32,
        title="A page",
        text=text,
        author="Ada",
        date="2024-03-05",
        kind="html",
    )


def test_page_round_trips_with_provenance(tmp_path: Path) -> None:
    cache = PageCache(tmp_path / "sleuth.duckdb")
    stored = page()
    cache.put(stored)
    got = cache.get_fresh(stored.url, max_age_s=10**9)
    assert got == stored and got.from_cache and not stored.from_cache
    assert cache.fetched_at_of([stored.final_url]) == {stored.final_url: "2030-01-01T00:00:00Z"}
    with open_duckdb(tmp_path / "sleuth.duckdb") as con:
        row = con.execute(
            "SELECT url, final_url, status, content_hash, published, error FROM web_pages"
        ).fetchone()
    assert row == (stored.url, stored.final_url, 200, "ab" * 32, "2024-03-05", None)


def test_stale_pages_are_not_served(tmp_path: Path) -> None:
    cache = PageCache(tmp_path / "sleuth.duckdb")
    cache.put(page(fetched_at="2020-01-01T00:00:00Z"))
    assert cache.get_fresh("https://example.org/a", max_age_s=3600) is None
    assert cache.get_fresh("https://example.org/a", max_age_s=10**10) is not None


def test_failures_are_cached_briefly_with_their_reason(tmp_path: Path) -> None:
    cache = PageCache(tmp_path / "sleuth.duckdb")
    cache.put(
        FetchFailure(
            url="https://dead.example/", reason="cannot connect to dead.example: refused", kind="network"
        )
    )
    got = cache.get_fresh("https://dead.example/", max_age_s=86400, failure_max_age_s=600)
    assert isinstance(got, FetchFailure) and got.from_cache
    assert (got.reason, got.kind) == ("cannot connect to dead.example: refused", "network")
    assert cache.get_fresh("https://dead.example/", max_age_s=86400, failure_max_age_s=0) is None
    assert cache.stats() == {"pages": 0, "failures": 1}


def test_a_new_fetch_replaces_the_previous_one(tmp_path: Path) -> None:
    cache = PageCache(tmp_path / "sleuth.duckdb")
    cache.put(
        FetchFailure(
            url="https://example.org/a", reason="HTTP 503 Service Unavailable", kind="http", status=503
        )
    )
    cache.put(page(text="new body"))
    got = cache.get_fresh("https://example.org/a", max_age_s=10**9)
    assert isinstance(got, FetchedPage) and got.text == "new body"
    assert cache.stats() == {"pages": 1, "failures": 0}


def test_cached_results_are_not_written_back(tmp_path: Path) -> None:
    cache = PageCache(tmp_path / "sleuth.duckdb")
    cache.put(page(fetched_at="2030-01-01T00:00:00Z"))
    cached = cache.get_fresh("https://example.org/a", max_age_s=10**9)
    cache.put_many([cached])  # a no-op: its fetch time must not be refreshed by re-storing
    assert cache.get_fresh_many(
        ["https://example.org/a", "https://other.example/"], max_age_s=10**9
    ).keys() == {"https://example.org/a"}
