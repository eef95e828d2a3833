"""The terminal every ``sleuth`` command writes to: results on stdout, progress and errors on stderr, and
the one way a command fails (a one-line reason and an exit code, never a traceback)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from sleuth.tools.errors import SleuthError

T = TypeVar("T")

out = Console(soft_wrap=True, highlight=False)  # results: reports, tables, search hits
markdown_out = Console(highlight=False)  # rendered Markdown wraps to the terminal's width
err = Console(stderr=True, soft_wrap=True)  # progress, notices, errors


ProgressFn = Callable[[str, dict], None]
PROCESS = {"own": False}  # True in the `sleuth` process itself (cli.main.run), not under a test's CliRunner


def leave_now() -> None:
    """End a read-only command's process at once, skipping interpreter teardown: freeing the loaded vector
    index and every module took 0.2 s at 300k chunks, a seventh of a cold `sleuth search`. Only for
    commands that wrote nothing but their output, which is flushed first."""
    if PROCESS["own"]:
        for stream in (out.file, err.file, sys.stdout, sys.stderr):
            stream.flush()
        os._exit(0)


@contextmanager
def work_progress(first: str = "scanning") -> Iterator[ProgressFn]:
    """Progress for long corpus work (ingest, doctor, reindex) on stderr: files, then chunks embedded
    with their rate and the time left. Takes the events tools/corpus sends: scan (files to read), file
    (one read), chunked (chunks to embed), embedded (chunks done), index (building the BM25 index)."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        files = bar.add_task(first, total=None, rate="")
        chunks = bar.add_task("embedding chunks", total=0, rate="", visible=False)

        def on_event(event: str, fields: dict) -> None:
            if event == "scan":
                bar.update(files, total=fields["total"], description="reading files")
            elif event == "file":
                bar.advance(files)
            elif event == "chunked":
                total = bar.tasks[chunks].total or 0
                bar.update(chunks, total=total + fields["chunks"], visible=True)
            elif event == "embedded":
                if not bar.tasks[chunks].total:  # a repair re-embeds an amount only known as it goes
                    bar.update(chunks, total=None, visible=True)
                bar.advance(chunks, fields["chunks"])
                speed = bar.tasks[chunks].speed
                bar.update(chunks, rate=f"{speed:.0f} chunks/s" if speed else "")
            elif event == "index":
                bar.update(files, description="building the search index")

        yield on_event


def fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


def run_guarded(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn`` and turn Sleuth's own errors into one-line messages and exit code 1."""
    try:
        return fn(*args, **kwargs)
    except SleuthError as e:
        fail(str(e))
    except KeyboardInterrupt:
        fail("interrupted; work finished so far is saved", code=130)
    raise AssertionError("unreachable")  # fail() always raises
