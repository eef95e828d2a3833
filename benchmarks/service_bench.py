"""Service figures, in one run on the same ingested sample corpus and question (offline engine):

- checkpoint bytes per research run: SQLite (the default) and PostgreSQL (when its binaries are here;
  tests/servers/postgres.py starts one on loopback), summed over the thread's checkpoints and writes;
- server-run overhead: a run through `langgraph dev` (langgraph_sdk, runs.wait) against the same run
  in process (run_research with warm dependencies), as a ratio;
- MCP `research` round trip (the SDK's client over stdio, server warm) against `sleuth research` as a
  new process.

    python benchmarks/service_bench.py [--runs 5]

Medians over --runs after one warm-up each; the machine is shared, so compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sleuth.research_app import default_deps, run_research  # noqa: E402
from sleuth.settings import load_settings  # noqa: E402
from sleuth.wiring import SAMPLE_CORPUS, ingest_paths  # noqa: E402

QUESTION = "What is HyDE and when does it help?"


def sqlite_bytes(path: Path, thread_id: str) -> int:
    with sqlite3.connect(path) as con:
        checkpoints = con.execute(
            "SELECT COALESCE(SUM(length(checkpoint) + length(metadata)), 0) FROM checkpoints WHERE thread_id = ?",
            [thread_id],
        ).fetchone()[0]
        writes = con.execute(
            "SELECT COALESCE(SUM(length(value)), 0) FROM writes WHERE thread_id = ?", [thread_id]
        ).fetchone()[0]
    return int(checkpoints + writes)


def postgres_bytes(url: str, thread_id: str) -> int:
    import psycopg

    total = 0
    with psycopg.connect(url) as con:
        for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
            total += con.execute(
                f"SELECT COALESCE(SUM(pg_column_size(t.*)), 0) FROM {table} t WHERE thread_id = %s",
                [thread_id],
            ).fetchone()[0]
    return int(total)


def timed(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    figures: dict[str, object] = {"runs": args.runs}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        os.environ["SLEUTH_DATA_DIR"] = str(data_dir)
        settings = load_settings(data_dir=data_dir)
        ingest_paths(settings, [SAMPLE_CORPUS])

        run_research(settings, QUESTION, thread_id="bytes-sqlite")
        figures["checkpoint_bytes_sqlite"] = sqlite_bytes(settings.checkpoint_path, "bytes-sqlite")
        try:
            from tests.servers.postgres import pg_bin, postgres_server

            pg_bin()
            with postgres_server() as url:
                run_research(
                    settings.model_copy(update={"checkpointer": url}), QUESTION, thread_id="bytes-pg"
                )
                figures["checkpoint_bytes_postgres"] = postgres_bytes(url, "bytes-pg")
        except BaseException as e:  # pytest.skip raises BaseException: no PostgreSQL binaries here
            figures["checkpoint_bytes_postgres"] = f"not measured: {e}"

        deps = default_deps(settings)
        in_process = timed(lambda: run_research(settings, QUESTION, deps=deps), args.runs)
        deps.close()
        figures["in_process_run_s"] = round(in_process, 3)

        from langgraph_sdk import get_sync_client

        from tests.servers.langgraph_dev import langgraph_dev

        with langgraph_dev(data_dir, Path(tmp), {}) as url:
            client = get_sync_client(url=url)

            def server_run() -> None:
                thread = client.threads.create()["thread_id"]
                values = client.runs.wait(thread, "research", input={"question": QUESTION})
                assert values["report"]["complete"]

            figures["server_run_s"] = round(timed(server_run, args.runs), 3)
        figures["server_over_in_process"] = round(figures["server_run_s"] / in_process, 2)

        def cli_run() -> None:
            command = [sys.executable, "-m", "sleuth", "research", QUESTION, "--data-dir", str(data_dir)]
            subprocess.run(command, check=True, capture_output=True)

        cli = timed(cli_run, args.runs)
        figures["cli_research_s"] = round(cli, 3)
        figures["mcp_research_s"] = round(anyio.run(mcp_round_trip, data_dir, args.runs), 3)
        figures["mcp_over_cli"] = round(figures["mcp_research_s"] / cli, 2)
    print(json.dumps(figures, indent=2))


async def mcp_round_trip(data_dir: Path, runs: int) -> float:
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "sleuth", "mcp", "--data-dir", str(data_dir)],
        env=dict(os.environ),
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        times = []
        for i in range(runs + 1):
            start = time.perf_counter()
            result = await session.call_tool("research", {"question": QUESTION})
            assert not result.is_error
            if i:  # the first call warms the server (model load)
                times.append(time.perf_counter() - start)
    return statistics.median(times)


if __name__ == "__main__":
    main()
