"""Research benchmark: offline run time on the sample corpus, and LLM calls per report plus sequential
LLM rounds on the critical path for a 3-sub-question plan (scripted OpenAI-compatible server).

    python benchmarks/research_bench.py [--data-dir DIR] [--runs 3] [--delay 0.2]

Without --data-dir the sample corpus is ingested into a temporary directory first (not timed).
Sequential LLM rounds are the report's own count (``usage.sequential_llm_rounds``): the calls that had
to wait for each other, with parallel sub-question branches counted once. ``calls_in_sequence_measured``
is the longest chain of requests the server saw that did not overlap in time: it equals the rounds only
when ``llm_max_concurrency`` lets the branches' calls run side by side.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sleuth.agents.deps import ResearchDeps  # noqa: E402
from sleuth.logs import configure_logging  # noqa: E402
from sleuth.research_app import run_research  # noqa: E402
from sleuth.settings import load_settings  # noqa: E402
from sleuth.tools.llm import OpenAIChatModel  # noqa: E402
from sleuth.wiring import SAMPLE_CORPUS, ingest_paths, limits_from_settings, offline_engine, open_corpus  # noqa: E402  # noqa: E402
from tests.fakes.openai_server import Reply, ScriptedOpenAIServer, responder_by_task, task_of  # noqa: E402
from tests.graph.llm_script import all_supported, plan, queries, quote_first_sentences  # noqa: E402

QUESTIONS = [
    "What is reciprocal rank fusion and why does it need no score normalisation?",
    "Compare BM25 and dense retrieval for exact-match queries",
    "How does retrieval-augmented generation reduce hallucinations?",
    "Long context vs RAG",
]


def offline_times(settings, runs: int) -> dict:
    started = time.perf_counter()
    corpus = open_corpus(settings)  # loads the embedding model: paid once per process
    open_s = time.perf_counter() - started
    deps = ResearchDeps(model=offline_engine(settings), search=corpus, limits=limits_from_settings(settings))
    times, claims = [], []
    for _ in range(runs):
        for question in QUESTIONS:
            t0 = time.perf_counter()
            report = run_research(settings, question, deps=deps).report
            times.append(time.perf_counter() - t0)
            claims.append(report["verification"]["total"])
    return {
        "corpus_open_s": round(open_s, 2),
        "run_s_p50": round(statistics.median(times), 3),
        "run_s_max": round(max(times), 3),
        "claims_per_report_p50": statistics.median(claims),
        "runs": len(times),
    }


def critical_path(intervals: list[tuple[float, float]]) -> int:
    """Longest chain of intervals each starting after the previous one ended."""
    best: list[int] = []
    ordered = sorted(intervals)
    for i, (start, _end) in enumerate(ordered):
        best.append(1 + max((best[j] for j in range(i) if ordered[j][1] <= start), default=0))
    return max(best, default=0)


def llm_rounds(settings, delay_s: float) -> dict:
    intervals: list[tuple[float, float]] = []
    lock = threading.Lock()

    def timed(responder):
        def respond(request):
            with lock:
                now = time.perf_counter()
                intervals.append((now, now + delay_s))
            return Reply.slow(delay_s, responder(request))

        return respond

    three = plan("What is BM25?", "What is dense retrieval?", "How do BM25 and dense retrieval compare?")
    routes = {
        "planner": three,
        "rewriter": queries,
        "writer": quote_first_sentences,
        "verifier": all_supported,
    }
    with ScriptedOpenAIServer(responder_by_task({task: timed(r) for task, r in routes.items()})) as server:
        model = OpenAIChatModel(
            server.base_url,
            None,
            "scripted-model",
            timeout_s=30,
            max_concurrency=settings.llm_max_concurrency,
        )
        deps = ResearchDeps(model=model, search=open_corpus(settings), limits=limits_from_settings(settings))
        t0 = time.perf_counter()
        report = run_research(settings, "BM25 vs dense retrieval", deps=deps).report
        wall = time.perf_counter() - t0
        per_task: dict[str, int] = {}
        for request in server.requests:
            per_task[task_of(request.json)] = per_task.get(task_of(request.json), 0) + 1
    return {
        "sub_questions": len(report["sections"]),
        "llm_calls": report["usage"]["llm_calls"],
        "calls_by_task": per_task,
        "sequential_llm_rounds": report["usage"]["sequential_llm_rounds"],
        "calls_in_sequence_measured": critical_path(intervals),
        "llm_max_concurrency": settings.llm_max_concurrency,
        "wall_s_with_delay": round(wall, 2),
        "delay_per_call_s": delay_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--delay", type=float, default=0.2)
    args = parser.parse_args()
    configure_logging("error")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        settings = load_settings(data_dir=data_dir)
        if args.data_dir is None:
            ingest_paths(settings, [SAMPLE_CORPUS])
        results = {"offline": offline_times(settings, args.runs), "llm": llm_rounds(settings, args.delay)}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
