"""Web app figures, all in one run on the same ingested sample corpus:

- time from "ask" to the first progress event and to the report through `sleuth serve` (HTTP + server-sent
  events, the plan accepted as soon as it is shown) against `sleuth research` for the same question (a
  new process each time, as a user runs it: time to its first progress line and to its exit);
- page weight of a report page (HTML + script + stylesheet, uncompressed);
- export time per format (md, json, html, pdf, docx) of the same report, rendered in this process.

    python benchmarks/webapp_bench.py [--runs 5]

Medians over --runs; the machine is shared, so compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sleuth.reports.formats import RENDERERS, render_report  # noqa: E402
from sleuth.settings import load_settings  # noqa: E402
from sleuth.wiring import SAMPLE_CORPUS, ingest_paths  # noqa: E402
from tests.webapp.server import WebClient, sleuth_server  # noqa: E402

QUESTION = "What is HyDE and when does it help?"


def web_run(web: WebClient) -> tuple[float, float]:
    """Seconds from the ask to the first progress event, and to the report (plan accepted at once)."""
    start = time.perf_counter()
    response = web.post("/api/ask", {"question": QUESTION})
    thread_id = response.json()["thread_id"]
    first = None
    plan = None
    for events_of_job in ("ask", "plan"):
        with web.http.stream("GET", f"/api/threads/{thread_id}/events", timeout=300) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                if first is None and event["kind"] == "progress":
                    first = time.perf_counter() - start
                if event["kind"] == "plan":
                    plan = event["plan"]
        if events_of_job == "ask":
            web.post(f"/api/threads/{thread_id}/plan", {"action": "accept", "plan": plan})
    web.http.get(f"/threads/{thread_id}")  # the report page itself
    return first or 0.0, time.perf_counter() - start


def cli_run(data_dir: Path) -> tuple[float, float]:
    start = time.perf_counter()
    command = [sys.executable, "-m", "sleuth", "research", QUESTION, "--data-dir", str(data_dir)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first = None
    assert proc.stderr is not None
    for line in proc.stderr:
        if first is None and line.startswith("·"):
            first = time.perf_counter() - start
    proc.wait()
    return first or 0.0, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        os.environ["SLEUTH_DATA_DIR"] = str(data_dir)
        settings = load_settings(data_dir=data_dir)
        ingest_paths(settings, [SAMPLE_CORPUS])
        cli = [cli_run(data_dir) for _ in range(args.runs)]
        with sleuth_server(data_dir) as url:
            web = WebClient(url)
            web_run(web)  # the first run warms the server's caches, as a user's first question would
            served = [web_run(web) for _ in range(args.runs)]
            thread_id = web.http.get("/").text.split('href="/threads/')[1].split('"')[0]
            page = web.http.get(f"/threads/{thread_id}").content
            weight = len(page) + sum(
                len(web.http.get(f"/static/{f}").content) for f in ("app.js", "style.css")
            )
            report = web.report(thread_id)
            web.close()
    exports = {}
    for fmt in RENDERERS:
        render_report(report, fmt)  # imports and font loading, once
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            data = render_report(report, fmt)
            times.append(time.perf_counter() - start)
        exports[fmt] = {"median_ms": round(statistics.median(times) * 1000, 1), "bytes": len(data)}
    med = statistics.median
    figures = {
        "runs": args.runs,
        "cli_first_progress_s": round(med(c[0] for c in cli), 3),
        "cli_report_s": round(med(c[1] for c in cli), 3),
        "web_first_progress_s": round(med(s[0] for s in served), 3),
        "web_report_s": round(med(s[1] for s in served), 3),
        "page_weight_bytes": weight,
        "exports": exports,
    }
    figures["web_over_cli_first_progress"] = round(
        figures["web_first_progress_s"] / figures["cli_first_progress_s"], 3
    )
    figures["web_over_cli_report"] = round(figures["web_report_s"] / figures["cli_report_s"], 3)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
