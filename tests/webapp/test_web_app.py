"""`sleuth serve` over real HTTP on 127.0.0.1: a research turn with plan approval and an edited plan, live
progress events, the report, a citation's document with its span, a follow-up with stable citation
numbers, downloads, the corpus and schedules pages, and the guards (CSRF, origin, host, escaping, the
viewer's lookups). The same flows in a real browser are in test_browser.py."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from sleuth.tools.corpus.store import CorpusStore
from sleuth.tools.db.runs import RunLog
from tests.fixtures.exports import exported_text, squash
from tests.webapp.conftest import HOSTILE_MARKUP, HOSTILE_QUESTION, run_schedule_twice
from tests.webapp.server import WebClient, sleuth_server

QUESTION = "What is HyDE and when does it help?"


@pytest.fixture(scope="module")
def client(served_dir: Path, model_cache_dir: Path):
    run_schedule_twice(served_dir, model_cache_dir)
    with sleuth_server(served_dir, env={"SLEUTH_MODEL_CACHE_DIR": str(model_cache_dir)}) as url:
        web = WebClient(url)
        yield web
        web.close()


def claims_of(report: dict) -> list[dict]:
    return [claim for section in report["sections"] for claim in section["claims"]]


def test_a_turn_pauses_for_the_plan_streams_progress_and_writes_the_report(
    client: WebClient, served_dir: Path
) -> None:
    thread_id, events = client.ask(QUESTION)
    assert [e["kind"] for e in events][-1] == "plan"
    assert events[0]["kind"] == "progress" and events[0]["node"] == "planner"
    plan = events[-1]["plan"]
    assert len(plan) >= 2
    page = client.http.get(f"/threads/{thread_id}").text
    assert 'id="plan"' in page and plan[0] in html.unescape(page)

    edited = [plan[0], "Who wrote the HyDE paper?"]  # one removed, one added
    events = client.accept(thread_id, edited)
    assert events[-1]["kind"] == "report"
    nodes = {e["node"] for e in events if e["kind"] == "progress"}
    assert {"decide", "rewriter", "retriever", "writer", "verifier"} <= nodes, nodes
    report = client.report(thread_id)
    assert [s["question"] for s in report["sections"]] == edited
    assert claims_of(report) and report["verification"]["supported"] == report["verification"]["total"]

    page = client.http.get(f"/threads/{thread_id}").text
    for claim in claims_of(report):
        assert claim["text"] in html.unescape(page)
    assert "Verification:" in page and report["engine_label"] in page
    assert 'id="trace-log"' in page  # the finished run's progress stays readable

    run = RunLog(served_dir / "sleuth.duckdb").get(thread_id)
    assert run["status"] == "completed" and run["report_path"] and Path(run["report_path"]).is_file()


def test_a_citation_opens_its_document_with_exactly_the_cited_span_marked(
    client: WebClient, served_dir: Path
) -> None:
    thread_id, events = client.ask("What is reciprocal rank fusion?")
    client.accept(thread_id, events[-1]["plan"])
    report = client.report(thread_id)
    store = CorpusStore(served_dir / "sleuth.duckdb", read_only=True)
    for source in report["sources"]:
        panel = client.http.get(f"/threads/{thread_id}/sources/{source['n']}?panel=1")
        assert panel.status_code == 200
        marked = re.search(r'<mark class="cited-span" id="cited-span">(.*?)</mark>', panel.text, re.S)
        assert marked, panel.text[:500]
        document = store.document_text(source["doc_id"])
        assert html.unescape(marked.group(1)) == document[source["start"] : source["end"]] == source["text"]
        citing = [c for c in claims_of(report) if source["n"] in c["citations"]]
        assert all(c["reason"] in html.unescape(panel.text) for c in citing if c["reason"])


def test_a_follow_up_keeps_the_citation_numbers(client: WebClient) -> None:
    thread_id, events = client.ask(QUESTION)
    client.accept(thread_id, events[-1]["plan"])
    first = {s["chunk_id"]: s["n"] for s in client.report(thread_id)["sources"]}
    _, events = client.ask("When does HyDE hurt retrieval?", thread_id)
    assert events[-1]["kind"] == "plan"
    client.accept(thread_id, events[-1]["plan"])
    second = client.report(thread_id)
    assert second["question"] == "When does HyDE hurt retrieval?"
    assert all(first.get(s["chunk_id"], s["n"]) == s["n"] for s in second["sources"])
    assert set(first) & {s["chunk_id"] for s in second["sources"]}, (
        "the follow-up cites none of the first turn"
    )
    assert thread_id in client.http.get("/").text  # listed among past threads


def test_a_hostile_document_renders_as_text(client: WebClient) -> None:
    thread_id, events = client.ask(HOSTILE_QUESTION)
    client.accept(thread_id, events[-1]["plan"])
    report = client.report(thread_id)
    hostile = [s for s in report["sources"] if s["source"].endswith("zanzibar-beacon.md")]
    assert hostile, "the hostile document was not cited"
    pages = [client.http.get(f"/threads/{thread_id}").text]
    pages += [client.http.get(f"/threads/{thread_id}/sources/{s['n']}").text for s in hostile]
    pages.append(client.http.get(f"/threads/{thread_id}/report.html").text)
    for page in pages:
        for markup in HOSTILE_MARKUP:
            assert markup not in page
        assert "javascript:" not in re.findall(r'href="([^"]*)"', page).__str__()
        assert "<script>document" not in page and "<img" not in page
    assert any(HOSTILE_MARKUP[0] in c["text"] for c in claims_of(report)), "no claim quotes the markup"
    viewer = pages[1]
    assert HOSTILE_MARKUP[0] in html.unescape(viewer)  # shown, as text
    assert (
        "characters after" in viewer or "A beacon log line" in viewer
    )  # the huge line is windowed, not dropped


def test_the_viewer_serves_only_the_reports_own_sources(client: WebClient) -> None:
    thread_id, events = client.ask(QUESTION)
    client.accept(thread_id, events[-1]["plan"])
    n = len(client.report(thread_id)["sources"])
    for path in (
        f"/threads/{thread_id}/sources/{n + 1}",
        f"/threads/{thread_id}/sources/..%2F..%2F..%2Fetc%2Fpasswd",
        f"/threads/{thread_id}/sources/1/../../../../etc/passwd",
        "/threads/no-such-thread/sources/1",
        "/static/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    ):
        response = client.http.get(path)
        assert response.status_code == 404, path
        assert "root:" not in response.text


def test_state_changes_need_the_csrf_token_the_same_origin_and_this_host(client: WebClient) -> None:
    body = {"question": QUESTION}
    assert client.http.post("/api/ask", json=body).status_code == 403  # no CSRF header
    assert client.post("/api/ask", body, headers={"X-Sleuth-CSRF": "wrong"}).status_code == 403
    assert client.post("/api/ask", body, headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.http.get("/", headers={"Host": "evil.example"}).status_code == 403  # DNS rebinding
    page = client.http.get("/")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"


def test_downloads_carry_every_claim_citation_and_the_verification_line(
    client: WebClient, tmp_path: Path
) -> None:
    thread_id, events = client.ask(QUESTION)
    client.accept(thread_id, events[-1]["plan"])
    report = client.report(thread_id)
    texts = {}
    for fmt in ("html", "pdf", "docx", "md"):
        response = client.http.get(f"/threads/{thread_id}/report.{fmt}")
        assert response.status_code == 200 and response.content
        path = tmp_path / f"report.{fmt}"
        path.write_bytes(response.content)
        texts[fmt] = squash(exported_text(path))
    line = f"of {report['verification']['total']} claims supported by their cited passages"
    for fmt, text in texts.items():
        assert line in text and report["engine_label"] in text, fmt
        for claim in claims_of(report):
            assert squash(claim["text"]) in text, (fmt, claim["text"])
        for source in report["sources"]:
            assert f"[{source['n']}]" in text, fmt


def test_the_corpus_page_adds_uploads_and_lists_skipped_files(client: WebClient) -> None:
    before = client.http.get("/corpus").text
    count = int(re.search(r'id="doc-count">(\d+)<', before).group(1))
    files = [
        (
            "files",
            (
                "tide notes.md",
                b"# Tide tables\n\nSpring tides at Quillhaven peak at 5.2 metres.\n",
                "text/markdown",
            ),
        ),
        ("files", ("broken.pdf", b"%PDF-1.7 this is not really a pdf", "application/pdf")),
    ]
    response = client.post("/api/corpus/ingest", files=files)
    assert response.status_code == 200, response.text
    events = client.events(response.json()["thread_id"])
    assert events[-1]["kind"] == "ingested" and events[-1]["added"] == 1 and events[-1]["skipped"] == 1
    after = client.http.get("/corpus").text
    assert int(re.search(r'id="doc-count">(\d+)<', after).group(1)) == count + 1
    assert "broken.pdf" in after  # with its one-line reason
    thread_id, events = client.ask("How high do spring tides peak at Quillhaven?")
    client.accept(thread_id, events[-1]["plan"])
    assert any(s["source"].endswith("tide_notes.md") for s in client.report(thread_id)["sources"])


def test_the_schedules_page_shows_history_and_what_changed(client: WebClient) -> None:
    page = client.http.get("/schedules").text
    assert "weekly-hyde" in page
    runs = re.findall(r'href="(/schedules/runs/[^"]+)"', page)
    assert len(runs) == 2
    latest = client.http.get(runs[0]).text
    assert "What changed since the last run" in latest and "Compared with run" in latest
    assert "Verification:" in latest
