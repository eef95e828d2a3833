"""`sleuth mcp` driven by the official MCP SDK's client, over stdio (the server is a subprocess the client
starts, as agents do) and over streamable HTTP on 127.0.0.1: tools listed, `search` passages with spans,
`research` with progress notifications and a report whose sources carry the exact cited spans, `ingest`
with a skipped file, past reports as resources."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from sleuth.tools.corpus.store import CorpusStore
from tests.graph.sample_corpus import private_copy, sample_data_dir  # noqa: F401  (session fixture)

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def data_dir(sample_data_dir: Path, tmp_path: Path) -> Path:  # noqa: F811
    return private_copy(sample_data_dir, tmp_path / "data").data_dir


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    return result.structured_content


async def exercise(session: ClientSession, data_dir: Path, docs: Path) -> dict[str, Any]:
    await session.initialize()
    names = {tool.name for tool in (await session.list_tools()).tools}
    assert {"search", "research", "ingest"} <= names

    hits = structured(await session.call_tool("search", {"query": "reciprocal rank fusion", "k": 3}))[
        "passages"
    ]
    store = CorpusStore(data_dir / "sleuth.duckdb", read_only=True)
    assert len(hits) == 3
    for hit in hits:
        assert store.document_text(hit["doc_id"])[hit["start"] : hit["end"]] == hit["text"]

    progress: list[str] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    research = structured(
        await session.call_tool("research", {"question": "What is HyDE?"}, progress_callback=on_progress)
    )
    assert research["complete"] and research["sources"]
    assert re.fullmatch(r"\d+ of \d+ claims supported by their cited passages\.", research["verification"])
    assert research["verification"] in research["report_markdown"]
    for source in research["sources"]:
        assert store.document_text(source["doc_id"])[source["start"] : source["end"]] == source["text"]
        assert f"[{source['n']}]" in research["report_markdown"]
    assert any(line.startswith("planner") for line in progress) and any(
        "verifier" in line for line in progress
    )

    ingested = structured(await session.call_tool("ingest", {"paths": [str(docs)]}))
    assert ingested["added"] == 1 and len(ingested["skipped"]) == 1 and "broken.pdf" in ingested["skipped"][0]
    found = structured(await session.call_tool("search", {"query": "Quillhaven spring tides", "k": 1}))
    assert found["passages"][0]["source"].endswith("tides.md")  # the search sees the ingest at once

    listing = json.loads((await session.read_resource("sleuth://reports")).contents[0].text)
    assert research["run_id"] in {r["run_id"] for r in listing}
    text = (await session.read_resource(f"sleuth://reports/{research['run_id']}")).contents[0].text
    assert text == research["report_markdown"]
    return research


def make_docs(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tides.md").write_text("# Tides\n\nSpring tides at Quillhaven peak at 5.2 metres.\n")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7 not a pdf at all")
    return docs


def test_mcp_over_stdio(data_dir: Path, tmp_path: Path, model_cache_dir: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "sleuth", "mcp", "--data-dir", str(data_dir)],
        env={**os.environ, "SLEUTH_MODEL_CACHE_DIR": str(model_cache_dir)},
    )

    async def main() -> None:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await exercise(session, data_dir, make_docs(tmp_path))

    anyio.run(main)


def test_mcp_over_streamable_http(data_dir: Path, tmp_path: Path, model_cache_dir: Path) -> None:
    env = {**os.environ, "SLEUTH_MODEL_CACHE_DIR": str(model_cache_dir)}
    command = [sys.executable, "-m", "sleuth", "mcp", "--http", "--port", "0", "--data-dir", str(data_dir)]
    proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            match = re.search(r"(http://127\.0\.0\.1:\d+/mcp)", proc.stderr.readline())
            url = match.group(1) if match else None
        assert url, "sleuth mcp --http did not start"

        async def main() -> None:
            async with streamable_http_client(url) as (read, write), ClientSession(read, write) as session:
                await exercise(session, data_dir, make_docs(tmp_path))

        anyio.run(main)
    finally:
        proc.terminate()
        proc.wait(20)
