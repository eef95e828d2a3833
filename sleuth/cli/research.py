"""`sleuth research "question"`: live progress on stderr, the report on stdout and in a file."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from sleuth.cli.console import err, fail, out, run_guarded
from sleuth.cli.options import BaseUrlOpt, DataDirOpt, LlmOpt, WebOpt


def progress_line(event: dict[str, Any]) -> str | None:
    """One human line for a node's trace event (None for events not worth a line)."""
    node, sq = event.get("node"), event.get("sub_question", "")
    if node == "planner":
        subs = event.get("sub_questions", [])
        return f"planner: {len(subs)} sub-question(s): " + "; ".join(
            f"[{i}] {q}" for i, q in enumerate(subs, 1)
        )
    if node == "decide":
        retrieval = event.get("retrieval") or ("local" if event.get("retrieve") else "none")
        action = "none, enough evidence" if retrieval == "none" else retrieval
        return f"{sq} decide: {action} ({event.get('reason', '')})"
    if node == "rewriter":
        return f"{sq} query-rewriter: {len(event.get('queries', []))} queries"
    if node == "web":
        return web_progress(event)
    if node == "retriever":
        counts = f"{event.get('new', 0)} new, {event.get('hits', 0)} hits"
        web = f", {event['web']} from the web" if event.get("web") else ""
        return f"{sq} retriever: {event.get('kept', 0)} relevant passages ({counts}{web})"
    if node == "writer":
        claims = event.get("claims")
        return (
            f"writer: {sum(claims.values())} claims drafted"
            if claims
            else f"writer: not written ({event.get('reason', '')})"
        )
    if node == "verifier":
        gaps = event.get("gaps") or []
        more = f"; another round for {', '.join(gaps)}" if gaps else ""
        return f"verifier: {event.get('checked', 0)} claims checked {event.get('verdicts', {})}{more}"
    if node == "stop":
        return f"stopping early: {event.get('reason', '')}"
    return None


def _count(n: int, noun: str) -> str:
    plural = f"{noun}es" if noun.endswith(("s", "sh", "ch", "x")) else f"{noun}s"
    return f"{n} {noun}" if n == 1 else f"{n} {plural}"


def web_progress(event: dict[str, Any]) -> str:
    """E.g. "sq2 web: 6 URLs from 3 searches; 2 pages (1 from cache); 4 skipped (http 3, refused 1)"."""
    skipped, errors = event.get("skipped", []), event.get("search_errors", [])
    line = (
        f"{event.get('sub_question', '')} web: {_count(event.get('urls', 0), 'URL')} from "
        f"{_count(event.get('queries', 0), 'search')}; {_count(event.get('pages', 0), 'page')} "
        f"({event.get('from_cache', 0)} from cache)"
    )
    if skipped:
        kinds = Counter(item["kind"] for item in skipped)
        line += f"; {len(skipped)} skipped ({', '.join(f'{k} {n}' for k, n in kinds.items())})"
    if errors:
        line += f"; {_count(len(errors), 'search')} failed: {errors[0]['reason']}"
    return line


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
    fmt: Annotated[str, typer.Option("--format", help="md or json.")] = "md",
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
    from sleuth.research_app import run_research, web_notice
    from sleuth.settings import load_settings

    if fmt not in ("md", "json"):
        fail(f"unknown --format {fmt!r}: use md or json")
    web_mode = None if web is None else ("always" if web else "off")
    settings = run_guarded(
        load_settings,
        data_dir=data_dir,
        llm_model=llm,
        llm_base_url=base_url,
        max_iterations=max_iterations,
        web=web_mode,
    )
    notice = web_notice(settings)
    if notice:
        err.print(f"[yellow]{escape(notice)}[/yellow]")
    result = run_guarded(
        run_research, settings, question, thread_id=thread, out=out_path, fmt=fmt, on_event=_print_progress
    )
    report = result.report
    if result.notice:
        err.print(f"[yellow]{escape(result.notice)}[/yellow]")
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
