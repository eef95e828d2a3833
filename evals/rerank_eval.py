"""Reranking with a real model: hybrid search with and without a reranker on the same seeded sample,
in one run. SciFact (test): nDCG@10 over documents; HotpotQA pooled: both gold paragraphs in the top 10
documents. Per query: the reranker's added seconds, calls and tokens.

    python -m evals.rerank_eval scifact --reranker llm --queries 50   # SLEUTH_LLM_* name the model
    python -m evals.rerank_eval hotpotqa --reranker endpoint          # SLEUTH_RERANK_BASE_URL

A sub-question's retrieval reranks the production hybrid's top ``--depth`` chunks, as the research
graph does (``rerank_depth``); documents are ranked by their best chunk. Each query's outcome is
appended to a JSONL file as it finishes, so an interrupted run resumes where it stopped (same
dataset, sample, reranker and depth). The sample is drawn with a fixed seed; nothing is tuned on it.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import structlog

from evals.corpus_build import CACHE_ROOT, IndexSettings, build_corpus
from evals.datasets import DatasetNotFound, load_hotpotqa, load_scifact
from evals.hotpot_eval import sample_questions
from evals.metrics import ndcg_at
from evals.record import RESULTS_DIR, EvalRun, RowLog, row_log
from sleuth.agents.rerank import rerank_passages
from sleuth.settings import load_settings
from sleuth.tools.records import Passage
from sleuth.wiring import make_reranker

log = structlog.get_logger(__name__)

SAMPLE_SEED = 7


def doc_ranking(passages: list[Passage]) -> list[str]:
    return list(dict.fromkeys(p.doc_id for p in passages))


def sample(dataset: str, n: int, data_dir: Path | None) -> tuple[list[dict[str, Any]], Any, dict]:
    """(queries as {id, text, gold}, the eval corpus's docs, dataset checksums)."""
    if dataset == "scifact":
        data = load_scifact(data_dir, "test")
        ids = sorted(random.Random(SAMPLE_SEED).sample(sorted(data.queries), min(n, len(data.queries))))
        queries = [{"id": q, "text": data.queries[q], "gold": data.qrels[q]} for q in ids]
        return queries, data.docs, data.sha256
    data = load_hotpotqa(data_dir)
    picked = sample_questions(data.questions, n)
    queries = [{"id": q.question_id, "text": q.question, "gold": list(q.gold_doc_ids)} for q in picked]
    return queries, data.docs, data.sha256


def score(dataset: str, ranking: list[str], gold: Any) -> float:
    if dataset == "scifact":
        return ndcg_at(ranking, gold, 10)
    return float(set(gold) <= set(ranking[:10]))


def run(args: argparse.Namespace) -> Path:
    settings = load_settings()
    reranker = make_reranker(settings, args.reranker)
    assert reranker is not None
    queries, docs, checksums = sample(args.dataset, args.queries, args.data_dir)
    corpus, build = build_corpus(args.dataset, docs, settings=IndexSettings(), root=CACHE_ROOT)
    model = reranker.name.replace(":", "_").replace("/", "_")
    tag = f"{args.dataset}-{len(queries)}-{args.reranker}-d{args.depth}-{model}"
    progress = RowLog(row_log(RESULTS_DIR, f"rerank-{tag}"))
    done = progress.done
    eval_run = EvalRun(  # started before the queries: its wall time is this run's (a resumed run's part)
        f"rerank-{tag}",
        {
            "dataset": args.dataset,
            "queries": len(queries),
            "seed": SAMPLE_SEED,
            "depth": args.depth,
            "reranker": reranker.name,
            "window": settings.rerank_window,
            "step": settings.rerank_step,
        },
        checksums,
    )
    metric = "ndcg@10" if args.dataset == "scifact" else "both_gold@10"
    for n, q in enumerate(queries, start=1):
        if q["id"] in done:
            continue
        hybrid = corpus.search(q["text"], k=max(30, args.depth))
        reranker = make_reranker(settings, args.reranker)  # each query is a search with its own budget
        started = time.perf_counter()
        try:
            reranked = rerank_passages(reranker, q["text"], hybrid, args.depth)
            error = None
        except Exception as e:  # noqa: BLE001 - one query's failure is recorded, the run goes on
            reranked, error = hybrid, f"{type(e).__name__}: {e}"
        seconds = time.perf_counter() - started
        usage = getattr(reranker, "usage", [])
        row = {
            "id": q["id"],
            "hybrid": score(args.dataset, doc_ranking(hybrid), q["gold"]),
            "reranked": score(args.dataset, doc_ranking(reranked), q["gold"]),
            "order_changed": [p.chunk_id for p in reranked[: args.depth]]
            != [p.chunk_id for p in hybrid[: args.depth]],
            "seconds": round(seconds, 2),
            "calls": len(usage),
            "tokens": sum(u["prompt_tokens"] + u["completion_tokens"] for u in usage),
            "repairs": sum(1 for u in usage if u.get("repair")),
            "error": error,
        }
        progress.add(row)
        log.info("eval.rerank.query", n=n, of=len(queries), **{k: v for k, v in row.items() if k != "id"})
    rows = [done[q["id"]] for q in queries]
    mean = lambda key: round(sum(r[key] for r in rows) / len(rows), 4)  # noqa: E731
    median = lambda key: sorted(r[key] for r in rows)[len(rows) // 2]  # noqa: E731
    eval_run.config["first_token_scoring"] = getattr(reranker, "first_token", None)
    eval_run.results = {
        f"hybrid {metric}": mean("hybrid"),
        f"hybrid + rerank {metric}": mean("reranked"),
        "delta": round(mean("reranked") - mean("hybrid"), 4),
        "queries better / worse / same": [
            sum(r["reranked"] > r["hybrid"] for r in rows),
            sum(r["reranked"] < r["hybrid"] for r in rows),
            sum(r["reranked"] == r["hybrid"] for r in rows),
        ],
        "queries whose candidate order the reranker changed": sum(1 for r in rows if r.get("order_changed")),
        "added seconds per query (median / mean)": [median("seconds"), mean("seconds")],
        "calls per query (mean)": mean("calls"),
        "tokens per query (mean)": mean("tokens"),
        "share of calls repaired": round(
            sum(r["repairs"] for r in rows) / max(sum(r["calls"] for r in rows), 1), 4
        ),
        "failed queries (fused order kept)": sum(1 for r in rows if r["error"]),
    }
    return eval_run.finish(RESULTS_DIR, index=build)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", choices=["scifact", "hotpotqa"])
    ap.add_argument("--reranker", choices=["llm", "endpoint"], default="llm")
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--depth", type=int, default=20, help="chunks reranked per query (rerank_depth)")
    ap.add_argument("--data-dir", type=Path, default=None)
    args = ap.parse_args(argv)
    try:
        path = run(args)
    except DatasetNotFound as e:
        print(f"skipped: {e}", file=sys.stderr)
        return 0
    print(json.dumps(json.loads(path.read_text())["results"], indent=1))
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
