"""The fetcher against a hostile loopback site: every page ends as text or a failure with its reason,
inside its deadline, without reading more than the size cap and without retrying what will not heal."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest

from sleuth.tools.web.fetcher import USER_AGENT, WebFetcher
from sleuth.tools.web.pages import FetchedPage, FetchFailure, PageFetchError
from tests.fakes.web_server import HUGE_BYTES, INJECTION, TestSite
from tests.web.conftest import FAST


def failure(fetcher: WebFetcher, url: str) -> FetchFailure:
    [result] = fetcher.fetch_many([url])
    assert isinstance(result, FetchFailure), result
    return result


def test_article_main_text_and_metadata_without_boilerplate(site: TestSite, fetcher: WebFetcher) -> None:
    page = fetcher.fetch(site.url("/article"))
    assert page.status == 200 and page.kind == "html" and page.final_url == site.url("/article")
    assert page.title == "Reciprocal rank fusion explained"
    assert page.author == "Ada Lovelace" and page.date == "2024-03-05"
    assert "one over k plus its rank" in page.text
    assert "Section 12" not in page.text and "cookies" not in page.text and "Copyright" not in page.text
    assert len(page.body_hash) == 64 and page.fetched_at.endswith("Z")


def test_pdf_and_plain_text_are_extracted(site: TestSite, fetcher: WebFetcher) -> None:
    pdf, text = fetcher.fetch_many([site.url("/doc.pdf"), site.url("/notes.txt")])
    assert isinstance(pdf, FetchedPage) and pdf.kind == "pdf" and pdf.title == "Retrieval notes"
    assert "Hybrid search fuses BM25 and vectors." in pdf.text
    assert isinstance(text, FetchedPage) and text.kind == "text" and text.title == "Plain notes"
    assert "BM25 saturates term frequency." in text.text


def test_body_without_content_type_is_sniffed(site: TestSite, fetcher: WebFetcher) -> None:
    page = fetcher.fetch(site.url("/no-type"))
    assert page.kind == "html" and page.title == "Untyped page"


def test_sends_a_descriptive_user_agent(site: TestSite, fetcher: WebFetcher) -> None:
    fetcher.fetch(site.url("/article"))
    assert {r.headers["user-agent"] for r in site.requests} == {USER_AGENT}
    assert USER_AGENT.startswith("Sleuth/0.1 (+https://github.com/sleuth-research/sleuth")


def test_content_type_outside_the_allowlist_is_refused(site: TestSite, fetcher: WebFetcher) -> None:
    result = failure(fetcher, site.url("/image.png"))
    assert result.kind == "content_type" and "image/png" in result.reason


def test_binary_served_as_html_is_refused(site: TestSite, fetcher: WebFetcher) -> None:
    result = failure(fetcher, site.url("/binary"))
    assert (result.kind, result.reason) == ("binary", "binary content served as text/html")


def test_huge_page_is_cut_at_the_size_cap_while_streaming(site: TestSite, fetcher: WebFetcher) -> None:
    started = time.monotonic()
    result = failure(fetcher, site.url("/huge"))
    assert result.kind == "too_large" and "1.0 MB" in result.reason
    assert time.monotonic() - started < 1.5
    # the cap is 1 MB; what the server pushed beyond it is only what socket buffers held
    assert site.huge_bytes_sent < HUGE_BYTES // 4


def test_declared_huge_page_is_refused_before_reading(site: TestSite, fetcher: WebFetcher) -> None:
    result = failure(fetcher, site.url("/huge-declared"))
    assert result.kind == "too_large" and "Content-Length 50.0 MB > 1.0 MB limit" in result.reason


@pytest.mark.timeout(10)  # without the deadline this page never ends
def test_page_that_never_finishes_is_cut_by_the_total_deadline(site: TestSite) -> None:
    with WebFetcher(replace(FAST, deadline_s=1.0, read_timeout_s=5.0)) as fetcher:
        started = time.monotonic()
        result = failure(fetcher, site.url("/trickle"))
        elapsed = time.monotonic() - started
    assert site.trickle_started.is_set()  # it really was trickling, not refused up front
    assert result.kind == "timeout" and "within 1 s (fetch deadline)" in result.reason
    assert 0.9 < elapsed < 2.0


@pytest.mark.parametrize(("path", "status"), [("/missing", 404), ("/error", 500)])
def test_client_and_server_errors_are_not_retried(
    site: TestSite, fetcher: WebFetcher, path: str, status: int
) -> None:
    result = failure(fetcher, site.url(path))
    assert (result.kind, result.status) == ("http", status)
    assert result.reason.startswith(f"HTTP {status}")
    assert site.hits(path) == 1


def test_429_then_ok_is_retried_honouring_retry_after(site: TestSite, fetcher: WebFetcher) -> None:
    page = fetcher.fetch(site.url("/flaky"))
    assert page.title == "Reciprocal rank fusion explained"
    assert site.hits("/flaky") == 2


def test_retry_after_beyond_the_deadline_gives_up_at_once(site: TestSite, fetcher: WebFetcher) -> None:
    started = time.monotonic()
    result = failure(fetcher, site.url("/rate-limited"))
    assert result.status == 429 and "Retry-After 120 s is past the fetch deadline" in result.reason
    assert site.hits("/rate-limited") == 1 and time.monotonic() - started < 1.0


def test_unavailable_is_retried_a_bounded_number_of_times(site: TestSite, fetcher: WebFetcher) -> None:
    result = failure(fetcher, site.url("/unavailable"))
    assert result.status == 503 and result.reason.endswith("(after 3 attempts)")
    assert site.hits("/unavailable") == FAST.max_attempts


@pytest.mark.parametrize("status", [502, 504])
def test_transient_gateway_errors_heal(site: TestSite, fetcher: WebFetcher, status: int) -> None:
    site.fail_next("/article", status)
    assert fetcher.fetch(site.url("/article")).status == 200
    assert site.hits("/article") == 2


def test_redirects_are_followed_and_recorded(site: TestSite, fetcher: WebFetcher) -> None:
    page = fetcher.fetch(site.url("/chain/3"))
    assert page.url == site.url("/chain/3") and page.final_url == site.url("/article")


def test_redirect_loop_is_detected(site: TestSite, fetcher: WebFetcher) -> None:
    result = failure(fetcher, site.url("/loop-a"))
    assert result.kind == "redirect" and result.reason.startswith("redirect loop:")
    assert site.hits("/loop-a") == 1 and site.hits("/loop-b") == 1


def test_redirect_limit(site: TestSite, fetcher: WebFetcher) -> None:
    result = failure(fetcher, site.url("/chain/9"))
    assert (result.kind, result.reason) == ("redirect", "too many redirects (more than 5)")
    assert site.hits("/chain/4") == 1 and site.hits("/chain/3") == 0


def test_robots_txt_is_respected_and_fetched_once(site: TestSite, fetcher: WebFetcher) -> None:
    blocked, allowed, again = fetcher.fetch_many(
        [site.url("/private/secret"), site.url("/article"), site.url("/notes.txt")]
    )
    assert isinstance(blocked, FetchFailure) and blocked.kind == "robots"
    assert "blocked by robots.txt of 127.0.0.1" in blocked.reason
    assert allowed.ok and again.ok
    assert site.hits("/private/secret") == 0 and site.hits("/robots.txt") == 1


def test_robots_can_be_switched_off(site: TestSite) -> None:
    with WebFetcher(replace(FAST, respect_robots=False)) as fetcher:
        assert fetcher.fetch(site.url("/private/secret")).ok
    assert site.hits("/robots.txt") == 0


def test_missing_robots_txt_allows_everything() -> None:
    with TestSite(robots=False) as site, WebFetcher(FAST) as fetcher:
        assert fetcher.fetch(site.url("/private/secret")).ok
        assert site.hits("/robots.txt") == 1


def test_unreachable_robots_txt_disallows_the_site(site: TestSite, fetcher: WebFetcher) -> None:
    site.fail_next("/robots.txt", 503, 503, 503)
    result = failure(fetcher, site.url("/article"))
    assert result.kind == "robots" and "robots.txt unreachable (HTTP 503" in result.reason
    assert site.hits("/article") == 0


def test_prompt_injection_comes_back_as_plain_data(
    site: TestSite, fetcher: WebFetcher, connects: list[object]
) -> None:
    page = fetcher.fetch(site.url("/injection"))
    assert INJECTION in page.text  # verbatim, for the graph to quote as evidence
    # nothing in the page was acted on: no link, no refresh target, no "evil" host
    assert site.paths() == ["/robots.txt", "/injection"]
    assert {addr[0] for addr in connects} == {"127.0.0.1"}  # type: ignore[index]


def test_fetch_raises_one_line_fetch_error(site: TestSite, fetcher: WebFetcher) -> None:
    with pytest.raises(PageFetchError) as err:
        fetcher.fetch(site.url("/missing"))
    assert str(err.value) == "HTTP 404 Not Found" and "\n" not in str(err.value)


def test_fetch_many_keeps_order_and_records_every_failure(site: TestSite, fetcher: WebFetcher) -> None:
    paths = ["/article", "/missing", "/binary", "/to-metadata", "/doc.pdf", "/loop-a", "not a url"]
    results = fetcher.fetch_many([site.url(p) if p.startswith("/") else p for p in paths])
    assert [r.ok for r in results] == [True, False, False, False, True, False, False]
    assert [r.url for r in results[:6]] == [site.url(p) for p in paths[:6]]
    assert all(r.reason for r in results if isinstance(r, FetchFailure))
    assert results[-1].kind == "invalid_url"


def test_per_host_concurrency_is_limited(site: TestSite) -> None:
    with WebFetcher(replace(FAST, per_host_concurrency=2, deadline_s=5.0)) as fetcher:
        results = fetcher.fetch_many([site.url(f"/slow/{i}") for i in range(6)], max_concurrency=6)
    assert all(r.ok for r in results)
    assert site.max_in_flight == 2


def test_politeness_delay_spaces_requests_to_one_host(site: TestSite) -> None:
    with WebFetcher(replace(FAST, politeness_s=0.15, respect_robots=False)) as fetcher:
        fetcher.fetch_many([site.url("/article"), site.url("/notes.txt"), site.url("/doc.pdf")])
    starts = sorted(r.at for r in site.requests)
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    # measured where the server receives, so scheduling jitter can shift one arrival a little; without
    # the delay all three arrive within milliseconds
    assert len(gaps) == 2 and min(gaps) >= 0.1 and starts[-1] - starts[0] >= 0.28


def test_async_callers_on_their_own_loop(site: TestSite, fetcher: WebFetcher) -> None:
    async def main() -> list[bool]:
        results = await fetcher.afetch_many([site.url("/article"), site.url("/missing")])
        return [r.ok for r in results]

    assert asyncio.run(main()) == [True, False]
