"""The web page cache in DuckDB (table ``web_pages``): the latest fetch of each URL, successful or not,
with its provenance (final URL, status, fetch time, content hash). A page fetched within the freshness
window is served from here; a failure is kept only briefly (so a dead host is not hammered on every
sub-question) and always with its reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sleuth.tools.corpus.store import utcnow
from sleuth.tools.db.connection import open_duckdb
from sleuth.tools.db.migrations import migrate
from sleuth.tools.web.pages import FetchedPage, FetchFailure, FetchResult

_COLUMNS = (
    "url, final_url, status, content_type, fetched_at, content_hash, title, author, published, text, kind, "
    "error, error_kind"
)
FAILURE_TTL_S = 600.0


def parse_timestamp(stamp: str) -> datetime:
    """ISO-8601 (``...Z`` or with an offset) to naive UTC, as DuckDB TIMESTAMP columns hold it."""
    parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def format_timestamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


class PageCache:
    def __init__(self, db_path: Path) -> None:
        self.path = db_path
        migrate(db_path)

    def put_many(self, results: Iterable[FetchResult]) -> None:
        """Record each result as its URL's latest fetch (replacing the previous one)."""
        rows = [_row(r) for r in results if not r.from_cache]
        if not rows:
            return
        with open_duckdb(self.path) as con:
            con.execute("BEGIN")
            con.execute("DELETE FROM web_pages WHERE url IN (SELECT unnest(?))", [[row[0] for row in rows]])
            con.executemany(f"INSERT INTO web_pages ({_COLUMNS}) VALUES ({', '.join(['?'] * 13)})", rows)
            con.execute("COMMIT")

    def put(self, result: FetchResult) -> None:
        self.put_many([result])

    def get_fresh(
        self, url: str, max_age_s: float, failure_max_age_s: float = FAILURE_TTL_S
    ) -> FetchResult | None:
        return self.get_fresh_many([url], max_age_s, failure_max_age_s).get(url)

    def get_fresh_many(
        self, urls: Sequence[str], max_age_s: float, failure_max_age_s: float = FAILURE_TTL_S
    ) -> dict[str, FetchResult]:
        """The cached result of each URL fetched recently enough: pages within ``max_age_s``, failures
        within ``failure_max_age_s``. Missing or stale URLs are absent."""
        if not urls:
            return {}
        now = utcnow()
        page_cutoff = now - timedelta(seconds=max_age_s)
        failure_cutoff = now - timedelta(seconds=min(failure_max_age_s, max_age_s))
        with open_duckdb(self.path) as con:
            rows = con.execute(
                f"SELECT {_COLUMNS} FROM web_pages WHERE url IN (SELECT unnest(?)) "
                "AND fetched_at >= CASE WHEN error IS NULL THEN ? ELSE ? END",
                [list(urls), page_cutoff, failure_cutoff],
            ).fetchall()
        return {row[0]: _result(row) for row in rows}

    def fetched_at_of(self, final_urls: Iterable[str]) -> dict[str, str]:
        """When each (final) URL's text was last fetched successfully."""
        urls = list(final_urls)
        if not urls:
            return {}
        with open_duckdb(self.path) as con:
            rows = con.execute(
                "SELECT final_url, max(fetched_at) FROM web_pages WHERE error IS NULL "
                "AND final_url IN (SELECT unnest(?)) GROUP BY final_url",
                [urls],
            ).fetchall()
        return {url: format_timestamp(at) for url, at in rows}

    def stats(self) -> dict[str, int]:
        with open_duckdb(self.path) as con:
            pages, failures = con.execute(
                "SELECT count(*) FILTER (WHERE error IS NULL), count(*) FILTER (WHERE error IS NOT NULL) FROM web_pages"
            ).fetchone()
        return {"pages": pages, "failures": failures}


def _row(r: FetchResult) -> list[Any]:
    at = parse_timestamp(r.fetched_at)
    if isinstance(r, FetchedPage):
        return [
            r.url,
            r.final_url,
            r.status,
            r.content_type,
            at,
            r.body_hash,
            r.title,
            r.author,
            r.date,
            r.text,
            r.kind,
            None,
            None,
        ]
    return [r.url, r.final_url, r.status, None, at, None, None, None, None, None, None, r.reason, r.kind]


def _result(row: tuple[Any, ...]) -> FetchResult:
    (
        url,
        final_url,
        status,
        content_type,
        at,
        body_hash,
        title,
        author,
        published,
        text,
        kind,
        error,
        error_kind,
    ) = row
    fetched_at = format_timestamp(at)
    if error is not None:
        return FetchFailure(
            url=url,
            reason=error,
            kind=error_kind,
            status=status,
            final_url=final_url,
            fetched_at=fetched_at,
            from_cache=True,
        )
    return FetchedPage(
        url=url,
        final_url=final_url,
        status=status,
        content_type=content_type,
        fetched_at=fetched_at,
        body_hash=body_hash,
        title=title,
        text=text,
        author=author,
        date=published,
        kind=kind,
        from_cache=True,
    )
