"""Command-line options shared by several commands, so each reads and documents the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from sleuth.settings import Settings

DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where the database and indexes live \\[env: SLEUTH_DATA_DIR]."),
]
LlmOpt = Annotated[
    str | None, typer.Option("--llm", help='Model name on the LLM endpoint; "offline" for no LLM.')
]
BaseUrlOpt = Annotated[str | None, typer.Option("--base-url", help="OpenAI-compatible endpoint URL.")]
WebOpt = Annotated[
    bool | None,
    typer.Option("--web/--no-web", help="Always / never search the web (default: the `web` setting, auto)."),
]


def research_settings(
    data_dir: Path | None, llm: str | None, base_url: str | None, web: bool | None, **more: object
) -> Settings:
    """Settings for a command that researches (research, chat, serve) from its shared options, with a
    warning when the web was asked for but no search backend is configured."""
    from sleuth.cli.console import err, run_guarded
    from sleuth.research_app import web_notice
    from sleuth.settings import load_settings

    web_mode = None if web is None else ("always" if web else "off")
    settings = run_guarded(
        load_settings, data_dir=data_dir, llm_model=llm, llm_base_url=base_url, web=web_mode, **more
    )
    notice = web_notice(settings)
    if notice:
        err.print(f"[yellow]{escape(notice)}[/yellow]")
    return settings
