"""The web app in a real browser (headless Chromium): ask a question on the sample corpus, approve the
plan, wait for the report, click a citation and check that the highlighted text is the cited chunk's
span, follow up on the thread; a hostile document stays inert. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sleuth.tools.corpus.store import CorpusStore
from tests.webapp.browser import browser_page
from tests.webapp.conftest import HOSTILE_QUESTION
from tests.webapp.server import WebClient, sleuth_server

pytestmark = pytest.mark.slow
ARTIFACTS = Path(
    os.environ.get("SLEUTH_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts")
)


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"web-{name}.png"), full_page=True)


def ask_and_approve(page, question: str) -> None:  # type: ignore[no-untyped-def]
    page.fill("#question", question)
    page.click("#ask-button")
    page.wait_for_selector("#plan-accept")
    page.click("#plan-accept")
    page.wait_for_selector("article.report")


def test_research_in_the_browser(served_dir: Path, model_cache_dir: Path) -> None:
    env = {"SLEUTH_MODEL_CACHE_DIR": str(model_cache_dir)}
    with sleuth_server(served_dir, env=env) as url, browser_page() as page:
        web = WebClient(url)
        store = CorpusStore(served_dir / "sleuth.duckdb", read_only=True)
        page.goto(url)
        page.fill("#question", "What is HyDE and when does it help?")
        page.click("#ask-button")
        page.wait_for_selector("#plan-items .plan-q")
        shot(page, "1-plan")
        assert page.locator("#plan-items .plan-q").count() >= 2
        page.click("#plan-add")
        page.locator("#plan-items .plan-q").last.fill("Who wrote the HyDE paper?")
        page.click("#plan-accept")
        page.wait_for_selector("article.report")
        shot(page, "2-report")
        thread_id = page.url.rstrip("/").split("/")[-1]
        report = web.report(thread_id)
        assert [s["question"] for s in report["sections"]][-1] == "Who wrote the HyDE paper?"
        trace = page.locator("#trace-log li").all_text_contents()
        assert any(line.startswith("planner") for line in trace) and any(
            "retriever" in line for line in trace
        )
        assert page.locator(".report .claim").count() == report["verification"]["total"] > 0

        citation = page.locator(".report .claims a.cite").first
        n = int(citation.get_attribute("data-n"))
        citation.click()
        page.wait_for_selector("#viewer mark.cited-span")
        shot(page, "3-citation")
        source = next(s for s in report["sources"] if s["n"] == n)
        marked = page.locator("#viewer mark.cited-span").text_content()
        assert marked == store.document_text(source["doc_id"])[source["start"] : source["end"]]
        assert page.locator("#viewer .verdict").first.text_content() in (
            "supported",
            "unsupported",
            "contradicted",
        )

        first_numbers = {s["chunk_id"]: s["n"] for s in report["sources"]}
        ask_and_approve(page, "When does HyDE hurt retrieval?")
        page.wait_for_function("document.querySelector('article.report h1').textContent.includes('hurt')")
        shot(page, "4-follow-up")
        follow_up = web.report(thread_id)
        assert all(first_numbers.get(s["chunk_id"], s["n"]) == s["n"] for s in follow_up["sources"])
        web.close()


def test_a_hostile_document_is_inert_in_the_browser(served_dir: Path, model_cache_dir: Path) -> None:
    env = {"SLEUTH_MODEL_CACHE_DIR": str(model_cache_dir)}
    with sleuth_server(served_dir, env=env) as url, browser_page() as page:
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        ask_and_approve(page, HOSTILE_QUESTION)
        for citation in page.locator(".report .claims a.cite").all():
            citation.click()
            page.wait_for_selector("#viewer mark.cited-span")
        shot(page, "5-hostile")
        assert "<script>" in page.locator("article.report").inner_text()  # shown as text
        assert page.evaluate("document.body.classList.contains('pwned')") is False
        assert page.locator("article.report script, #viewer script, #viewer img").count() == 0
        assert page.locator("a[href^='javascript:']").count() == 0
        assert not errors, errors
