"""`sleuth chat`: the terminal around sleuth/chat.py. Line editing and history (prompt_toolkit) when stdin
is a terminal, plain lines otherwise (pipes, tests); live progress on stderr; reports as Markdown."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markdown import Markdown
from rich.markup import escape

from sleuth.cli.console import err, fail, markdown_out, out, run_guarded
from sleuth.cli.options import BaseUrlOpt, DataDirOpt, LlmOpt, WebOpt, research_settings
from sleuth.reports.progress import progress_line

Reader = Callable[[str], str]  # prompt -> line; EOFError at the end of input (Ctrl-D)


def make_reader(history_path: Path) -> Reader:
    if not sys.stdin.isatty():
        return _plain_reader
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    history_path.parent.mkdir(parents=True, exist_ok=True)
    session: PromptSession[str] = PromptSession(history=FileHistory(str(history_path)))
    return lambda prompt: session.prompt(prompt)


def _plain_reader(prompt: str) -> str:
    sys.stdout.write(prompt)
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line


def _print_progress(event: dict[str, Any]) -> None:
    line = progress_line(event)
    if line:
        err.print(f"[dim]· {escape(line)}[/dim]")


def show(text: str, markdown: bool) -> None:
    if markdown and out.is_terminal:
        markdown_out.print(Markdown(text))
    elif text:  # pipes get the Markdown source
        out.print(text, markup=False)


def chat(
    thread: Annotated[
        str | None, typer.Option("--thread", help="Continue this thread (see /threads).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Accept every plan without asking.")] = False,
    llm: LlmOpt = None,
    base_url: BaseUrlOpt = None,
    web: WebOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Research interactively: ask, read the cited answer, ask follow-ups that build on the evidence found.

    Before each run the plan is shown for you to accept, edit or cancel (--yes skips this). Type /help
    for the commands. Ctrl-C cancels a run and keeps the thread; Ctrl-D or /quit leaves, and
    `sleuth chat --thread ID` continues later.
    """
    from sleuth.chat import ChatSession
    from sleuth.graphs.checkpoint import open_checkpointer
    from sleuth.research_app import default_deps

    settings = research_settings(data_dir, llm, base_url, web)
    deps = run_guarded(default_deps, settings)
    try:
        with open_checkpointer(settings.checkpoint_location) as saver:
            session = ChatSession(
                settings, deps, saver, thread_id=thread, auto_approve=yes, on_event=_print_progress
            )
            if thread:
                reply = session.continue_thread()
                if reply is None:
                    fail(f"no chat thread {thread!r}; /threads in `sleuth chat` lists them")
                show(reply.text, reply.markdown)  # type: ignore[union-attr]
            else:
                err.print("Ask a question (/help for commands, Ctrl-D to leave).")
            _loop(session, make_reader(settings.data_dir / "chat_history"))
    finally:
        deps.close()


def _loop(session: Any, read: Reader) -> None:
    while True:
        try:
            line = read("plan> " if session.awaiting_plan else "sleuth> ")
        except EOFError:
            break
        except KeyboardInterrupt:  # Ctrl-C at the prompt: drop the line, stay in the chat
            continue
        reply = session.handle(line)
        show(reply.text, reply.markdown)
        if reply.quit:
            break
    if session.thread_id:
        err.print(f"Thread {session.thread_id}: continue with `sleuth chat --thread {session.thread_id}`")


def register(app: typer.Typer) -> None:
    app.command("chat")(chat)
