"""Report-quality evals: run the research graph on each question and score the report it writes.

    python -m evals.report_eval hotpotqa [--data-dir ../shared/data] [--questions 100 | --all] [--seed 7]
    python -m evals.report_eval scifact  [--data-dir ../shared/data] [--questions 100 | --all] [--seed 7]

Engine: the LLM that sleuth's settings configure (SLEUTH_LLM_MODEL / OPENAI_MODEL / sleuth.toml), else the
offline engine; the result's config says which. Per report: evidence recall (gold docs cited by the
report's claims / present in the gathered evidence), citation precision (an independent judge,
evals/judge.py), HotpotQA answer EM/F1 per question type (LLM only), SciFact verdict agreement, and cost.
With an LLM, the result is named after the model (report-hotpotqa-20-<model>.json), and each scored report
is kept as it finishes (evals/results/rows/<name>-<config hash>.jsonl, in git): a stopped run started again
with the same settings resumes, in a later session too; delete that file to start over.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import structlog

from evals.answer_metrics import AnswerScore, question_type, summarise_answers
from evals.corpus_build import CACHE_ROOT, build_corpus
from evals.datasets import (
    HOTPOTQA_DIR,
    HOTPOTQA_FILE,
    SCIFACT_DIR,
    DatasetNotFound,
    EvalDoc,
    HotpotSet,
    load_hotpotqa,
    load_scifact,
    resolve_data_dir,
)
from evals.hotpot_eval import SAMPLE_SEED, sample_questions
from evals.record import RESULTS_DIR, EvalRun, RowLog, git_commit, row_log
from evals.report_scoring import ReportCase, Scorers, score_report, summarise
from sleuth.agents.budget import ResearchLimits
from sleuth.agents.deps import ResearchDeps
from sleuth.graphs.research import build_graph
from sleuth.settings import load_settings
from sleuth.tools.corpus.local_corpus import LocalCorpus
from sleuth.tools.errors import SleuthError
from sleuth.tools.llm import ChatModel
from sleuth.wiring import limits_from_settings, make_chat_model

log = structlog.get_logger(__name__)

NO_LLM = "needs an LLM (none configured)"


def configured_engine(
    model: ChatModel | None, limits: ResearchLimits | None
) -> tuple[ChatModel, ResearchLimits]:
    """The given model and limits, or those sleuth's settings configure (offline engine without an LLM)."""
    if model is not None and limits is not None:
        return model, limits
    settings = load_settings()
    return model or make_chat_model(settings), limits or limits_from_settings(settings)


def research_and_score(
    cases: list[ReportCase], corpus: LocalCorpus, scorers: Scorers, dataset: str, progress: RowLog
) -> list[dict[str, Any]]:
    """Each case's scored row; rows ``progress`` already holds are not run again. A row keeps the eval's
    own model calls for it (``eval_usage``: judge, answer, verdict), so a resumed run's totals add up."""
    graph = build_graph(ResearchDeps(model=scorers.model, search=corpus, limits=scorers.limits))
    if progress.done:
        log.info("eval.report.resumed", rows=len(progress.done), log=str(progress.path))
    commit = git_commit()
    for i, case in enumerate(cases, 1):
        if case.case_id in progress.done:
            continue
        started, mark = time.perf_counter(), scorers.usage_mark()
        state = graph.invoke({"question": case.question, "run_id": f"report-eval-{case.case_id}"})
        row = score_report(case, state, time.perf_counter() - started, scorers, dataset)
        row["eval_usage"] = scorers.usage_since(mark)
        row["git_commit"] = commit
        progress.add(row)
        log.info("eval.report.scored", case=case.case_id, done=i, of=len(cases), seconds=row["seconds"])
    return [progress.done[case.case_id] for case in cases]


def config_tag(config: dict[str, Any]) -> str:
    """Names a run's row log: a hash of everything that shapes a report (engine, limits, judge)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:10]


def run_reports(
    name: str,
    cases: list[ReportCase],
    docs: list[EvalDoc],
    sha256: dict[str, str],
    config: dict[str, Any],
    *,
    model: ChatModel | None,
    limits: ResearchLimits | None,
    cache_root: Path,
    results_dir: Path,
) -> Path:
    model, limits = configured_engine(model, limits)
    scorers = Scorers.for_model(model, limits)
    config = {
        **config,
        "engine": model.name,
        "engine_kind": "LLM" if scorers.llm else "offline engine",
        "judge": scorers.judge.name,
        "limits": asdict(limits),
    }
    if scorers.llm:  # an LLM engine's result names it: the offline engine's stays beside it
        name = f"{name}-{config['engine'].removeprefix('openai:').replace('/', '_')}"
    run = EvalRun(name, config, sha256)
    corpus, build = build_corpus(config["corpus_name"], docs, root=cache_root)
    # an LLM report takes minutes: keep each as it finishes; the offline engine's take a second
    progress = RowLog(row_log(results_dir, f"{name}-{config_tag(config)}") if scorers.llm else None)
    resumed = sum(case.case_id in progress.done for case in cases)
    rows = research_and_score(cases, corpus, scorers, config["dataset"], progress)
    run.config["commits"] = sorted({str(r.get("git_commit", "unknown")) for r in rows})
    run.results = summarise(rows, scorers, config["dataset"])
    if config["dataset"] == "hotpotqa" and not scorers.llm:
        run.results["answer_em_f1"] = NO_LLM
    elif config["dataset"] == "hotpotqa":
        scores = [AnswerScore(r["type"], r["em"], r["f1"]) for r in rows]
        run.results["answer_em_f1"] = summarise_answers(scores)
    # a resumed run's wall time is only that of the rows it ran itself
    return run.finish(results_dir, index=build, reports=rows, resumed_rows=resumed)


def hotpot_paragraphs(data_dir: Path | None, data: HotpotSet, question_ids: set[str]) -> list[EvalDoc]:
    """Only the given questions' own paragraphs (gold and distractors): a tiny corpus for smoke runs."""
    by_text = {(d.title, d.text): d for d in data.docs}
    kept: dict[str, EvalDoc] = {}
    with gzip.open(resolve_data_dir(data_dir) / HOTPOTQA_DIR / HOTPOTQA_FILE, "rt", encoding="utf-8") as f:
        for record in map(json.loads, filter(str.strip, f)):
            if record["question_id"] in question_ids:
                for ctx in record["contexts"]:
                    doc = by_text[(ctx["title"], ctx["paragraph_text"])]
                    kept[doc.doc_id] = doc
    return sorted(kept.values(), key=lambda d: d.doc_id)


def run_hotpotqa_reports(
    data_dir: Path | None = None,
    n_questions: int | None = 100,
    *,
    seed: int = SAMPLE_SEED,
    own_paragraphs: bool = False,
    model: ChatModel | None = None,
    limits: ResearchLimits | None = None,
    cache_root: Path = CACHE_ROOT,
    results_dir: Path = RESULTS_DIR,
) -> Path:
    """HotpotQA-500 over the pooled corpus (as evals.hotpot_eval.run_hotpotqa builds it), or over only
    the sampled questions' own paragraphs (``own_paragraphs``, for smoke tests)."""
    data = load_hotpotqa(data_dir)
    questions = sample_questions(data.questions, n_questions, seed)
    ids = {q.question_id for q in questions}
    docs = hotpot_paragraphs(data_dir, data, ids) if own_paragraphs else data.docs
    cases = [
        ReportCase(q.question_id, q.question, q.gold_doc_ids, question_type(q.question, q.answer), q.answer)
        for q in questions
    ]
    config = {
        "dataset": "hotpotqa",
        "corpus_name": "hotpotqa-own" if own_paragraphs else "hotpotqa",
        "corpus": f"{'own paragraphs' if own_paragraphs else 'pooled'}: {len(docs)} paragraphs",
        "questions": len(cases),
        "seed": seed,
        "question_types": "heuristic (evals/answer_metrics.question_type)",
    }
    name = f"report-hotpotqa-{len(cases)}" + ("-own" if own_paragraphs else "")
    return run_reports(
        name, cases, docs, data.sha256, config,
        model=model, limits=limits, cache_root=cache_root, results_dir=results_dir,
    )  # fmt: skip


def scifact_labels(data_dir: Path | None) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Claim id -> (gold label, rationale doc ids) from queries.jsonl metadata; no metadata = NEI."""
    labels = {}
    with (resolve_data_dir(data_dir) / SCIFACT_DIR / "queries.jsonl").open(encoding="utf-8") as f:
        for record in map(json.loads, filter(str.strip, f)):
            evidence = record.get("metadata") or {}
            found = {e["label"] for items in evidence.values() for e in items}
            label = "CONTRADICT" if "CONTRADICT" in found else "SUPPORT" if found else "NEI"
            labels[str(record["_id"])] = (label, tuple(sorted(evidence)))
    return labels


def seeded_claims(ids: list[str], n: int | None, seed: int) -> list[str]:
    """The seeded sample of ``n`` claim ids (all for None), in id order: one draw for every SciFact eval."""
    ids = sorted(ids, key=int)
    return ids if n is None or n >= len(ids) else sorted(random.Random(seed).sample(ids, n), key=int)


def run_scifact_reports(
    data_dir: Path | None = None,
    n_claims: int | None = 100,
    *,
    seed: int = SAMPLE_SEED,
    subset_docs: int | None = None,
    model: ChatModel | None = None,
    limits: ResearchLimits | None = None,
    cache_root: Path = CACHE_ROOT,
    results_dir: Path = RESULTS_DIR,
    split: str = "test",
) -> Path:
    """SciFact claims of ``split`` (a seeded sample; "train" to design on, "test" to report) over the full
    corpus, or over the claims' qrels documents plus the first others up to ``subset_docs`` (smoke tests)."""
    data = load_scifact(data_dir, split)
    labels = scifact_labels(data_dir)
    ids = seeded_claims(list(data.queries), n_claims, seed)
    docs = data.docs
    if subset_docs is not None:
        gold = {d for q in ids for d in data.qrels[q]}
        others = [d for d in docs if d.doc_id not in gold][: max(subset_docs - len(gold), 0)]
        docs = [d for d in docs if d.doc_id in gold] + others
    cases = [ReportCase(q, data.queries[q], labels[q][1], labels[q][0]) for q in ids]
    config = {
        "dataset": "scifact",
        "split": split,
        "corpus_name": "scifact" if subset_docs is None else "scifact-subset",
        "corpus": f"{len(docs)} abstracts",
        "questions": len(cases),
        "seed": seed,
        "gold_labels": {
            label: sum(c.group == label for c in cases) for label in ("SUPPORT", "CONTRADICT", "NEI")
        },
    }
    name = f"report-scifact-{'' if split == 'test' else split + '-'}{len(cases)}"
    name += "" if subset_docs is None else f"-subset{subset_docs}"
    return run_reports(
        name, cases, docs, data.sha256, config,
        model=model, limits=limits, cache_root=cache_root, results_dir=results_dir,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.report_eval", description=__doc__.split("\n")[0])
    parser.add_argument("dataset", choices=["hotpotqa", "scifact"])
    parser.add_argument("--data-dir", type=Path, default=None, help="default: ../shared/data beside the repo")
    parser.add_argument("--questions", type=int, default=100, help="seeded sample size (questions or claims)")
    parser.add_argument("--all", action="store_true", help="every question (HotpotQA 500, SciFact 300)")
    parser.add_argument("--seed", type=int, default=SAMPLE_SEED)
    parser.add_argument(
        "--split", choices=["test", "train"], default="test", help="SciFact only: train to design on"
    )
    args = parser.parse_args(argv)
    n = None if args.all else args.questions
    try:
        if args.dataset == "hotpotqa":
            path = run_hotpotqa_reports(args.data_dir, n, seed=args.seed)
        else:
            path = run_scifact_reports(args.data_dir, n, seed=args.seed, split=args.split)
    except (DatasetNotFound, SleuthError) as e:
        print(str(e), file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
