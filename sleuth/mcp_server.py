"""Sleuth as an MCP server (the official ``mcp`` SDK's MCPServer): tools ``search`` (passages with their
character spans), ``research`` (a verified, cited report; progress notifications per step) and
``ingest``; past reports as resources. Every call goes through the same functions as the CLI, so the
same budgets, run records, checkpoints and web safety apply; `sleuth mcp` runs it over stdio or
streamable HTTP."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
import structlog
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel

from sleuth import __version__
from sleuth.reports.progress import progress_line
from sleuth.reports.render import render_markdown, verification_line
from sleuth.research_app import run_research
from sleuth.settings import Settings
from sleuth.tools.corpus.local_corpus import LocalCorpus
from sleuth.tools.db.runs import RunLog
from sleuth.wiring import ingest_paths, open_corpus

log = structlog.get_logger(__name__)
MAX_K = 50

INSTRUCTIONS = (
    "Sleuth researches questions over the user's local documents (and the web when configured) and "
    "answers with claims that each cite the exact passage (document, chunk id, character span) they rest "
    "on, checked by a verifier. Use `search` for passages, `research` for a cited report (slow: minutes "
    "with a local model), `ingest` to add files or folders. Reports of past runs are resources."
)


class Span(BaseModel):
    chunk_id: str
    doc_id: str
    title: str
    source: str  # file path or URL
    start: int  # character offsets into the document's extracted text
    end: int
    text: str


class SearchHit(Span):
    score: float


class SearchResult(BaseModel):
    query: str
    passages: list[SearchHit]


class Source(Span):
    n: int  # the [n] in the report
    origin: str  # "local" or "web"
    fetched_at: str | None = None


class ResearchResult(BaseModel):
    run_id: str
    engine: str
    complete: bool
    stop_reason: str | None
    verification: str  # e.g. "8 of 8 claims supported by their cited passages."
    report_markdown: str
    sources: list[Source]
    report_path: str


class IngestResult(BaseModel):
    added: int
    updated: int
    unchanged: int
    pruned: int
    chunks: int
    skipped: list[str]  # "path: one-line reason"


def create_mcp_server(settings: Settings) -> MCPServer:
    server = MCPServer("sleuth", instructions=INSTRUCTIONS, version=__version__)
    research_lock = anyio.Lock()  # one research at a time: a run holds the model and the wall budget
    corpus_holder: dict[str, LocalCorpus] = {}
    corpus_lock = threading.Lock()

    def corpus() -> LocalCorpus:
        with corpus_lock:  # opened once (the embedding model loads in ~1 s); it reloads after an ingest
            if "corpus" not in corpus_holder:
                corpus_holder["corpus"] = open_corpus(settings, read_only=True)
            return corpus_holder["corpus"]

    @server.tool()
    async def search(query: str, k: int = 5) -> SearchResult:
        """Hybrid search (BM25 + embeddings) over the local corpus: the best k passages (at most 50), each
        with its document, chunk id and character span."""
        k = max(1, min(int(k), MAX_K))
        passages = await anyio.to_thread.run_sync(lambda: corpus().search(query, k))
        hits = [SearchHit(score=round(p.score, 6), **_span(p.to_dict())) for p in passages]
        return SearchResult(query=query, passages=hits)

    @server.tool()
    async def research(question: str, ctx: Context) -> ResearchResult:
        """Research a question: plan, retrieve, write claims that cite passages, verify each claim. Returns
        the Markdown report, its sources with the exact cited spans, and the verification line. Sends a
        progress notification per step when the client asks for progress."""
        steps = 0

        def on_event(event: dict[str, Any]) -> None:
            nonlocal steps
            line = progress_line(event)
            if line:
                steps += 1
                anyio.from_thread.run(ctx.report_progress, steps, None, line)

        async with research_lock:
            result = await anyio.to_thread.run_sync(
                lambda: run_research(settings, question, on_event=on_event, fmt="md")
            )
        report = result.report
        log.info("mcp.research", run_id=result.run_id, complete=report["complete"])
        return ResearchResult(
            run_id=result.run_id,
            engine=report["engine_label"],
            complete=report["complete"],
            stop_reason=report["stop_reason"],
            verification=verification_line(report),
            report_markdown=render_markdown(report),
            sources=[
                Source(n=s["n"], origin=s["origin"], fetched_at=s.get("fetched_at"), **_span(s))
                for s in report["sources"]
            ],
            report_path=str(result.report_path),
        )

    @server.tool()
    async def ingest(paths: list[str], prune: bool = False) -> IngestResult:
        """Add or update files and folders (Markdown, text, HTML, PDF, Word, PowerPoint, Excel, EPUB, CSV)
        in the local corpus; unreadable files
        are listed with a one-line reason and the rest goes on."""
        targets = [Path(p).expanduser() for p in paths]
        report = await anyio.to_thread.run_sync(lambda: ingest_paths(settings, targets, prune=prune))
        counts = report.counts()
        return IngestResult(
            added=counts["added"],
            updated=counts["updated"],
            unchanged=counts["unchanged"],
            pruned=counts["pruned"],
            chunks=counts["chunks"],
            skipped=[f"{path}: {reason}" for path, reason in report.skipped],
        )

    @server.resource("sleuth://reports", mime_type="application/json")
    def reports() -> str:
        """The most recent research runs: run id, question, status, claims supported, report resource."""
        rows = RunLog(settings.duckdb_path).recent(50)
        return json.dumps(
            [
                {
                    "run_id": r["run_id"],
                    "question": r["question"],
                    "status": r["status"],
                    "claims": f"{r.get('claims_supported')} of {r.get('claims_total')}",
                    "uri": f"sleuth://reports/{r['run_id']}",
                }
                for r in rows
                if r.get("report_path")
            ],
            default=str,
        )

    @server.resource("sleuth://reports/{run_id}", mime_type="text/markdown")
    def report(run_id: str) -> str:
        """One past run's report, as Markdown."""
        run = RunLog(settings.duckdb_path).get(run_id)
        path = Path(run["report_path"]) if run and run.get("report_path") else None
        if path is None or not path.is_file():
            raise ValueError(f"no saved report for run {run_id!r}")
        text = path.read_text(encoding="utf-8")
        return render_markdown(json.loads(text)) if path.suffix == ".json" else text

    return server


def _span(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record[k] for k in ("chunk_id", "doc_id", "title", "source", "start", "end", "text")}
