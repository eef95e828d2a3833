"""The servers: `sleuth serve`, the web app on this machine (127.0.0.1 by default), and `sleuth mcp`, the
MCP server for other agents (stdio, or streamable HTTP on loopback); both with the same corpus, settings,
checkpoints and run records as the other commands."""

from __future__ import annotations

import secrets
import socket
from typing import Annotated

import typer
from rich.markup import escape

from sleuth.cli.console import err, fail, out, run_guarded
from sleuth.cli.options import BaseUrlOpt, DataDirOpt, LlmOpt, WebOpt, research_settings


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        fail(
            f"cannot listen on {host}:{port}: {e.strerror or e} (choose another with --port, or 0 for any free one)"
        )
    sock.listen(128)
    return sock


def serve(
    host: Annotated[
        str | None, typer.Option("--host", help="Address to bind (default 127.0.0.1; others need a token).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=0, max=65535, help="Port (default 8765; 0 picks a free one).")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", help="Access token (made up and printed when bound beyond loopback)."),
    ] = None,
    sample: Annotated[
        bool,
        typer.Option(
            "--sample/--no-sample", help="Ingest the bundled sample corpus when the corpus is empty."
        ),
    ] = True,
    llm: LlmOpt = None,
    base_url: BaseUrlOpt = None,
    web: WebOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Research in the browser: ask, approve the plan, watch progress, click any [n] to read the passage
    in its document, follow up, export as HTML, PDF or Word, manage the corpus and see schedules.

    Binds 127.0.0.1 by default, so only this machine can reach it. Beyond loopback (--host 0.0.0.0)
    a token is required: give --token (or serve_token in sleuth.toml) or one is made up; either way the
    printed address carries it. Example: `sleuth serve`, then open the address it prints.
    """
    import uvicorn

    from sleuth.web.app import create_app
    from sleuth.web.security import is_loopback
    from sleuth.web.workbench import Workbench
    from sleuth.wiring import SAMPLE_CORPUS, ingest_paths

    settings = research_settings(data_dir, llm, base_url, web, serve_host=host, serve_port=port)
    loopback = is_loopback(settings.serve_host)
    token = token or (settings.serve_token.get_secret_value() if settings.serve_token else None)
    if not loopback and not token:
        token = secrets.token_urlsafe(18)
    bench = run_guarded(Workbench, settings)
    try:
        if sample and bench.corpus_status()["documents"] == 0:
            err.print("The corpus is empty: adding the bundled sample corpus (--no-sample skips this).")
            run_guarded(ingest_paths, settings, [SAMPLE_CORPUS])
        sock = _bind(settings.serve_host, settings.serve_port)
        bound_port = sock.getsockname()[1]
        shown_host = f"[{settings.serve_host}]" if ":" in settings.serve_host else settings.serve_host
        url = f"http://{shown_host}:{bound_port}/" + (f"?token={token}" if token else "")
        app = create_app(bench, token=token, loopback_only=loopback)
        out.print(
            f"Sleuth is serving at {escape(url)} (engine: {escape(bench.deps.model.name)}; Ctrl-C stops)"
        )
        config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        bench.close()


def mcp(
    http: Annotated[
        bool, typer.Option("--http", help="Streamable HTTP on 127.0.0.1 instead of stdio.")
    ] = False,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port for --http (0 picks a free one).")
    ] = 8766,
    llm: LlmOpt = None,
    base_url: BaseUrlOpt = None,
    web: WebOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Serve Sleuth to other agents over MCP: tools `search` (passages with character spans), `research`
    (a verified report whose every claim cites its passage; progress per step) and `ingest`; past reports
    as resources (sleuth://reports, sleuth://reports/RUN_ID).

    Over stdio by default, for a client that starts it, e.g. in its config:
    {"command": "sleuth", "args": ["mcp", "--data-dir", "/path/to/data"]}. With --http it listens on
    http://127.0.0.1:PORT/mcp (loopback only; Host and Origin are checked against DNS rebinding).
    """
    import anyio
    import uvicorn

    from sleuth.mcp_server import create_mcp_server

    settings = research_settings(data_dir, llm, base_url, web)
    server = create_mcp_server(settings)
    if not http:
        anyio.run(server.run_stdio_async)  # stdout carries the protocol: nothing else is printed there
        return
    sock = _bind("127.0.0.1", port)
    app = server.streamable_http_app(host="127.0.0.1")
    err.print(f"Sleuth MCP server at http://127.0.0.1:{sock.getsockname()[1]}/mcp (Ctrl-C stops)")
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2)
    uvicorn.Server(config).run(sockets=[sock])


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("mcp")(mcp)
