"""The terminal every ``sleuth`` command writes to: results on stdout, progress and errors on stderr, and
the one way a command fails (a one-line reason and an exit code, never a traceback)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from sleuth.tools.errors import SleuthError

T = TypeVar("T")

out = Console(soft_wrap=True, highlight=False)  # results: reports, tables, search hits
markdown_out = Console(highlight=False)  # rendered Markdown wraps to the terminal's width
err = Console(stderr=True, soft_wrap=True)  # progress, notices, errors


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
