"""The `sleuth` command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from sleuth import __version__
from sleuth.cli.chat import register as register_chat
from sleuth.cli.console import PROCESS, err, fail, leave_now, out, run_guarded, work_progress
from sleuth.cli.evals import register as register_eval
from sleuth.cli.options import DataDirOpt
from sleuth.cli.research import register as register_research
from sleuth.cli.schedule import register as register_schedule
from sleuth.cli.serve import register as register_serve
from sleuth.logs import configure_logging
from sleuth.settings import Settings, load_settings

app = typer.Typer(
    name="sleuth",
    help=(
        "Sleuth: deep research over your own documents (and the web), with citations that resolve to the "
        'exact passage.\n\nStart with `sleuth ingest PATH...` to add documents, then `sleuth search "..."`. '
        "Everything works offline by default; configure an LLM or embeddings endpoint in sleuth.toml or "
        "SLEUTH_* variables (see `sleuth config`)."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _settings(data_dir: Path | None = None, **overrides: object) -> Settings:
    return load_settings(data_dir=data_dir, **overrides)


def skip_lines(skipped: list[tuple[str, str]], examples: int = 3) -> list[str]:
    """One line per skipped file, except files of an unsupported type: one line per type, with a count."""
    by_type: dict[str, list[str]] = {}
    lines = []
    for path, reason in skipped:
        if reason.startswith("unsupported file type "):
            by_type.setdefault(reason, []).append(path)
        else:
            lines.append(f"{path}: {reason}")
    for reason, paths in by_type.items():
        shown = ", ".join(Path(p).name for p in paths[:examples]) + (", ..." if len(paths) > examples else "")
        lines.append(f"{len(paths)} file(s) of {reason.removeprefix('unsupported file type ')}: {shown}")
    return lines


@app.callback()
def main(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output (-v info, -vv debug).")
    ] = 0,
    log_json: Annotated[bool, typer.Option("--log-json", help="Structured JSON logs on stderr.")] = False,
) -> None:
    configure_logging(["error", "info", "debug"][min(verbose, 2)], json_logs=log_json)


@app.command()
def version() -> None:
    """Print Sleuth's version."""
    out.print(f"sleuth {__version__}")


@app.command()
def ingest(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files or folders (recursive): .md .txt .html .pdf .docx .pptx .xlsx .epub .csv"),
    ] = None,
    sample: Annotated[bool, typer.Option("--sample", help="Also ingest the bundled sample corpus.")] = False,
    prune: Annotated[
        bool, typer.Option("--prune", help="Remove documents whose files no longer exist.")
    ] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Add or update documents in the local corpus.

    Unchanged files are skipped, changed files replace their chunks, unreadable files are listed with a
    one-line reason and the rest of the ingest goes on.

    Examples: `sleuth ingest ~/notes`, `sleuth ingest --sample`, `sleuth ingest docs/ --prune`.
    """
    from sleuth.wiring import SAMPLE_CORPUS, ingest_paths

    targets = list(paths or []) + ([SAMPLE_CORPUS] if sample else [])
    if not targets and not prune:
        fail("nothing to ingest: give one or more PATHs, or --sample for the bundled sample corpus")
    settings = run_guarded(_settings, data_dir)
    with work_progress() as on_progress:
        report = run_guarded(ingest_paths, settings, targets, prune=prune, progress=on_progress)
    out.print(
        f"Ingested into {settings.data_dir}: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.skipped)} skipped, {report.pruned} pruned "
        f"({report.chunks} chunks embedded in {report.seconds:.1f} s)"
    )
    if any(report.repaired.values()):
        out.print(f"Repaired an interrupted earlier run: {report.repaired}")
    for line in skip_lines(report.skipped):
        out.print(f"  [yellow]skipped[/yellow] {escape(line)}")
    for path, note in report.notes:
        out.print(f"  [dim]note[/dim] {escape(path)}: {escape(note)}")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", "--top", min=1, max=200, help="How many passages.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print passages as JSON.")] = False,
    rerank: Annotated[
        str | None,
        typer.Option(
            "--rerank",
            help="Rerank the top candidates: none, llm (the configured model, listwise) or endpoint "
            "(a /rerank service, rerank_base_url). Default: the reranker setting.",
        ),
    ] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Hybrid search (BM25 + dense embeddings, fused by normalised scores) over the local corpus,
    optionally reranked (`--rerank llm|endpoint`)."""
    show_search(query, k, as_json, rerank, data_dir)
    leave_now()


def show_search(query: str, k: int, as_json: bool, rerank: str | None, data_dir: Path | None) -> None:
    from sleuth.agents.relevance import is_relevant
    from sleuth.wiring import limits_from_settings, make_reranker, open_corpus

    settings = run_guarded(_settings, data_dir)
    if rerank is not None and rerank not in ("none", "llm", "endpoint"):
        fail(f"--rerank must be none, llm or endpoint, not {rerank!r}")
    reranker = run_guarded(make_reranker, settings, rerank)
    corpus = run_guarded(open_corpus, settings, read_only=True)  # works beside other readers
    corpus.vectors.preload()  # the vector index loads while BM25 ranks and the query is embedded
    depth = max(k, settings.rerank_depth) if reranker is not None else k
    passages = run_guarded(corpus.search, query, depth)
    if reranker is not None:
        from sleuth.agents.rerank import rerank_passages

        passages = run_guarded(rerank_passages, reranker, query, passages, depth)
    passages = passages[:k]
    best = max((p.score for p in passages), default=0.0)
    limits = limits_from_settings(settings)
    matched = any(is_relevant(p, best, query, limits) for p in passages)  # the research graph's cut-off
    if as_json:
        out.print_json(json.dumps([p.to_dict() for p in passages] if matched else []))
        return
    if not passages:
        out.print("No matching passages. Is the corpus empty? Try `sleuth ingest --sample`.")
        return
    if not matched:
        out.print(
            f"No passage matches “{escape(query)}”: the {len(passages)} nearest share none of its terms and "
            "are not similar enough to count (the research graph would use none of them)."
        )
        return
    for i, p in enumerate(passages, start=1):
        snippet = " ".join(p.text.split())[:280]
        lex = f"{p.lexical_score:.2f}" if p.lexical_score is not None else "-"
        den = f"{p.dense_score:.3f}" if p.dense_score is not None else "-"
        out.print(
            f"[bold][{i}] {escape(p.title)}[/bold]  [dim]{escape(p.source)} chars {p.start}-{p.end}[/dim]"
        )
        reranked = f" · rerank {p.rerank_score:.3f}" if p.rerank_score is not None else ""
        out.print(
            f"    [dim]fused {p.score:.4f} · bm25 {lex} · cosine {den}{reranked} · chunk {p.chunk_id}[/dim]"
        )
        out.print(f"    {escape(snippet)}{'…' if len(p.text) > 280 else ''}")


@app.command()
def status(data_dir: DataDirOpt = None) -> None:
    """Show the data directory, corpus size, embedding model and LLM engine."""
    from sleuth.wiring import open_corpus

    settings = run_guarded(_settings, data_dir)
    corpus = run_guarded(open_corpus, settings, read_only=True)
    stats = corpus.store.stats()
    table = Table(show_header=False, box=None)
    table.add_row("data dir", str(settings.data_dir))
    table.add_row("documents", str(stats["documents"]))
    table.add_row("chunks", f"{stats['chunks']} ({corpus.vectors.count()} vectors)")
    table.add_row("vectors", corpus.vectors.store.where)
    lexical = run_guarded(corpus.lexical)
    table.add_row("bm25 index", f"{len(lexical)} chunks in {len(lexical.segments)} segment(s)")
    table.add_row("embeddings", f"{corpus.embedder.name} ({corpus.embedder.dim}-d)")
    table.add_row(
        "engine", f"LLM {settings.llm_model}" if settings.llm_model else "offline engine (no LLM configured)"
    )
    table.add_row("reranker", settings.reranker)
    out.print(table)


@app.command()
def doctor(data_dir: DataDirOpt = None) -> None:
    """Check that the database, vector index and BM25 index agree, and repair them if not.

    Needed only after a crash or `kill -9` mid-ingest (ingest also runs a quick check itself).
    """
    from sleuth.tools.errors import SleuthError, VectorIndexUnreadable
    from sleuth.wiring import open_corpus
    from sleuth.wiring import reindex as do_reindex

    settings = run_guarded(_settings, data_dir)
    try:
        corpus = open_corpus(settings)
        with work_progress("checking") as on_progress:
            repaired = run_guarded(
                corpus.check_consistency, full=True, progress=lambda n: on_progress("embedded", {"chunks": n})
            )
    except VectorIndexUnreadable as e:
        err.print(f"[yellow]{escape(str(e).split(';')[0])}[/yellow]: rebuilding it from the database")
        with work_progress("rebuilding") as on_progress:
            n = run_guarded(do_reindex, settings, on_progress)
        out.print(f"Rebuilt the vector index: {n} chunks embedded again.")
        return
    except SleuthError as e:  # e.g. the Chroma server cannot be reached: one line, nothing to repair
        fail(str(e))
    corpus.rebuild_lexical()
    if any(repaired.values()):
        out.print(f"Repaired: {repaired}")
    else:
        out.print("OK: documents, chunks, vectors and the BM25 index are consistent.")


@app.command()
def reindex(data_dir: DataDirOpt = None) -> None:
    """Re-embed every chunk with the configured embedding model (after changing the model)."""
    from sleuth.wiring import reindex as do_reindex

    settings = run_guarded(_settings, data_dir)
    with work_progress("re-embedding") as on_progress:
        n = run_guarded(do_reindex, settings, on_progress)
    out.print(f"Re-embedded {n} chunks.")


@app.command("config")
def show_config(data_dir: DataDirOpt = None) -> None:
    """Show the effective configuration and where each setting can be changed."""
    from sleuth.settings import config_file_path

    settings = run_guarded(_settings, data_dir)
    out.print(f"config file: {config_file_path() or '(none: ./sleuth.toml or ~/.config/sleuth/sleuth.toml)'}")
    for name, value in settings.model_dump().items():
        shown = "***" if "api_key" in name and value else value
        out.print(f"  {name} = {shown!s}    [dim]env SLEUTH_{name.upper()}[/dim]")


register_chat(app)
register_eval(app)
register_research(app)
register_schedule(app)
register_serve(app)


def run() -> None:
    """`sleuth` as its own process: the console script and ``python -m sleuth``."""
    PROCESS["own"] = True
    app()
