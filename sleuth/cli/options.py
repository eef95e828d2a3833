"""Command-line options shared by several commands, so each reads and documents the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
