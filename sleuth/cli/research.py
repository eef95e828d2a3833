"""`sleuth research "question"`: live progress on stderr, the report on stdout and in a file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from sleuth.cli.console import err, fail, out, run_guarded
from sleuth.cli.options import BaseUrlOpt, DataDirOpt, LlmOpt, WebOpt, research_settings
from sleuth.reports.formats import FORMAT_NAMES, RENDERERS
from sleuth.reports.progress import progress_line


def _print_progress(event: dict[str, Any]) -> None:
    if event.get("event") == "run":
        verb = "resumed" if event.get("resumed") else "started"
        err.print(
            f"Run {event['run_id']} {verb}; if it stops, resume it with "
            f"`sleuth research --thread {event['run_id']}`"
        )
        return
    line = progress_line(event)
    if line:
        err.print(f"[dim]·[/dim] {escape(line)}")


def research(
    question: Annotated[
        str | None, typer.Argument(help="What to research (optional with --thread to resume).")
    ] = None,
    llm: LlmOpt = None,
    base_url: BaseUrlOpt = None,
    max_iterations: Annotated[
        int | None, typer.Option("--max-iterations", min=1, help="Research rounds at most.")
    ] = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Write the report here (default: data dir/reports).")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="md, json, html (one self-contained file), pdf or docx.")
    ] = "md",
    thread: Annotated[
        str | None, typer.Option("--thread", help="Run id: resume this run from its checkpoint.")
    ] = None,
    web: WebOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Research a question in your corpus and write a report whose every claim cites its passage.

    Works offline by default: the offline engine writes an extractive brief.

    With a web search backend configured (web_search_backend, web_search_url), sub-questions the local
    corpus cannot answer are researched on the web too; fetched pages are cached and cited by URL.

    With an LLM configured (sleuth.toml, SLEUTH_LLM_* or OPENAI_* variables, or --llm/--base-url),
    the model plans, writes and verifies.

    A run killed midway resumes with `--thread RUN_ID`. Example: `sleuth research "BM25 vs dense retrieval"`.
    """
    from sleuth.research_app import run_research

    if fmt not in RENDERERS:
        fail(f"unknown --format {fmt!r}: use one of {FORMAT_NAMES}")
    settings = research_settings(data_dir, llm, base_url, web, max_iterations=max_iterations)
    result = run_guarded(
        run_research, settings, question, thread_id=thread, out=out_path, fmt=fmt, on_event=_print_progress
    )
    report = result.report
    if result.notice:
        err.print(f"[yellow]{escape(result.notice)}[/yellow]")
    if fmt in ("md", "json"):  # the report on stdout too; html, pdf and docx are files to open
        out.print(result.report_path.read_text(encoding="utf-8"), markup=False)
    if not report.get("passages_found") and not (report.get("web") or {}).get("searched"):
        err.print(
            "[yellow]No passage in the local corpus matched.[/yellow] See what is indexed with `sleuth status`; "
            "add documents with `sleuth ingest PATH` (or `sleuth ingest --sample`)."
        )
    elif not report.get("answered", True):
        err.print(
            f"[yellow]{report['passages_found']} passages were found, and none of them answered the question."
            "[/yellow]"
        )
    status = "complete" if report["complete"] else f"partial ({report['stop_reason']})"
    status = "not answered" if report["complete"] and not report.get("answered", True) else status
    err.print(
        f"Report ({status}) written to {escape(str(result.report_path))}. {escape(report['engine_label'])}. "
        f"Run id {result.run_id}" + (" (resumed)" if result.resumed else "")
    )


def register(app: typer.Typer) -> None:
    app.command("research")(research)
