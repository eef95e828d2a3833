"""The verifier alone on SciFact: one verifier call per claim, given the abstracts the claim cites.

    python -m evals.verdict_eval [--split train|test] [--claims 20 | --per-label 8] [--seed 7]

SciFact's "oracle abstract" setting: each claim is checked against its qrels abstracts (for SUPPORT and
CONTRADICT claims the rationale abstracts, for NEI claims the abstracts it cites that settle nothing), in
the verifier node's own input shape (evals/report_scoring.claim_verdict). So the verdict is measured
apart from retrieval and writing, in one call a claim instead of a report's ten: cheap enough to design
a verifier prompt on the train split and check it on the test split. ``--claims 20`` on the test split
draws the same claims as ``evals.report_eval scifact --questions 20``.

Engine: the LLM that sleuth's settings configure, else the offline engine. Rows are kept as they finish
(evals/results/rows/), so a stopped LLM run resumes.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import structlog

from evals.datasets import DatasetNotFound, load_scifact
from evals.hotpot_eval import SAMPLE_SEED
from evals.record import RESULTS_DIR, EvalRun, RowLog, git_commit, row_log
from evals.report_eval import config_tag, configured_engine, scifact_labels, seeded_claims
from evals.report_scoring import LABELS, Scorers, claim_verdict, verdict_summary
from sleuth.agents.budget import ResearchLimits
from sleuth.prompts import load_prompt
from sleuth.tools.errors import SleuthError
from sleuth.tools.llm import ChatModel

log = structlog.get_logger(__name__)


def sample_claims(
    ids: list[str], labels: dict[str, str], n: int | None, per_label: int | None, seed: int
) -> list[str]:
    """``n`` claims drawn as the report eval draws them, or ``per_label`` of each gold label."""
    if per_label is None:
        return seeded_claims(ids, n, seed)
    rng, picked = random.Random(seed), []
    for label in LABELS:
        group = [i for i in sorted(ids, key=int) if labels[i] == label]
        picked += rng.sample(group, min(per_label, len(group)))
    return sorted(picked, key=int)


def run_verdicts(
    data_dir: Path | None = None,
    *,
    split: str = "test",
    n_claims: int | None = 20,
    per_label: int | None = None,
    seed: int = SAMPLE_SEED,
    model: ChatModel | None = None,
    limits: ResearchLimits | None = None,
    results_dir: Path = RESULTS_DIR,
) -> Path:
    data = load_scifact(data_dir, split)
    labels = {q: label for q, (label, _) in scifact_labels(data_dir).items()}
    ids = sample_claims(list(data.queries), labels, n_claims, per_label, seed)
    model, limits = configured_engine(model, limits)
    scorers = Scorers.for_model(model, limits)
    docs = {d.doc_id: d for d in data.docs}
    config = {
        "dataset": "scifact",
        "split": split,
        "claims": len(ids),
        "sample": f"{per_label} per label" if per_label is not None else "seeded, as the report eval draws",
        "seed": seed,
        "passages": "the claim's qrels abstracts (oracle abstracts)",
        "engine": model.name,
        "prompt": load_prompt("verifier").id if scorers.llm else "none (rules)",
        "gold_labels": {label: sum(labels[q] == label for q in ids) for label in LABELS},
    }
    name = f"verdict-scifact-{split}-{len(ids)}-{model.name.removeprefix('openai:').replace('/', '_')}"
    if scorers.llm:  # the result names the prompt that the model was given
        name += f"-{config['prompt'].replace('@', '-')}"
    run = EvalRun(name, config, data.sha256)
    progress = RowLog(row_log(results_dir, f"{name}-{config_tag(config)}") if scorers.llm else None)
    commit = git_commit()
    for i, q in enumerate(ids, 1):
        if q in progress.done:
            continue
        passages = [
            {"chunk_id": d, "title": docs[d].title, "text": docs[d].text} for d in sorted(data.qrels[q])
        ]
        started, mark = time.perf_counter(), scorers.usage_mark()
        verdict = claim_verdict(scorers, data.queries[q], passages)
        usage = scorers.usage_since(mark)
        progress.add(
            {
                "id": q,
                "type": labels[q],
                **verdict,
                "seconds": round(time.perf_counter() - started, 2),
                "prompt_tokens": sum(u.get("prompt_tokens", 0) for u in usage),
                "completion_tokens": sum(u.get("completion_tokens", 0) for u in usage),
                "repairs": sum(bool(u.get("repair")) for u in usage),
                "git_commit": commit,
            }
        )
        log.info(
            "eval.verdict.scored", claim=q, done=i, of=len(ids), verdict=verdict["verdict"], gold=labels[q]
        )
    rows = [progress.done[q] for q in ids]
    run.results = {
        "verdict_agreement": verdict_summary(rows, config["passages"]),
        "model_verdict_agreement": verdict_summary(  # the model's own label, before the verifier's rules
            [{**r, "verdict": r["model_verdict"]} for r in rows], config["passages"]
        ),
        "calls_repaired": sum(r["repairs"] for r in rows),
        "seconds_per_claim": round(sum(r["seconds"] for r in rows) / max(len(rows), 1), 1),
        "tokens_per_claim": {
            k: round(sum(r[k] for r in rows) / max(len(rows), 1))
            for k in ("prompt_tokens", "completion_tokens")
        },
    }
    run.config["commits"] = sorted({str(r.get("git_commit", "unknown")) for r in rows})
    return run.finish(results_dir, rows=rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.verdict_eval", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="default: ../shared/data beside the repo")
    parser.add_argument("--split", choices=["test", "train"], default="test", help="train to design on")
    parser.add_argument(
        "--claims", type=int, default=20, help="seeded sample, drawn as the report eval draws"
    )
    parser.add_argument("--per-label", type=int, default=None, help="instead: this many of each gold label")
    parser.add_argument("--seed", type=int, default=SAMPLE_SEED)
    args = parser.parse_args(argv)
    try:
        path = run_verdicts(
            args.data_dir, split=args.split, n_claims=args.claims, per_label=args.per_label, seed=args.seed
        )
    except (DatasetNotFound, SleuthError) as e:
        print(str(e), file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
