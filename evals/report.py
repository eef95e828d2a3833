"""Render the JSON results under evals/results/ as Markdown tables, with published baselines beside ours."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evals.record import RESULTS_DIR

# Published SciFact test numbers (see ../shared/data/beir_scifact/PROVENANCE.md): (nDCG@10, Recall@100).
SCIFACT_BASELINES: dict[str, tuple[float, float | None]] = {
    "published: BM25, BEIR paper (Elasticsearch)": (0.665, None),
    "published: BM25 flat, Pyserini": (0.6789, 0.9253),
    "published: BM25 multifield, Pyserini": (0.6647, 0.9076),
    "published: SPLADE-distil-CoCondenser, Pyserini": (0.6992, 0.9270),
}
RETRIEVAL_COLUMNS = ("ndcg@10", "recall@100", "mrr@10", "map@10", "hits@1", "hits@10")


def load_results(results_dir: Path = RESULTS_DIR) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(results_dir.glob("*.json"))]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _footer(result: dict[str, Any]) -> str:
    index, notes = result.get("index"), []
    if index is not None:
        notes.append(
            "reused cached index" if index.get("cached") else f"indexing {index.get('index_seconds', '?')} s"
        )
    if result.get("resumed_rows"):
        notes.append(f"{result['resumed_rows']} rows resumed from earlier runs, not in this wall time")
    built = f" ({'; '.join(notes)})" if notes else ""
    return (
        f"_{result['eval']}: commit `{result['git_commit'][:12]}`, {result['created_at']}, "
        f"wall {result['wall_seconds']} s{built}, peak RSS {result['peak_rss_mb']} MB, {result.get('cpus')} CPUs._"
    )


def retrieval_table(result: dict[str, Any]) -> str:
    split = result["config"].get("split", "test")
    header = ["configuration", *(f"{c} ({split})" for c in RETRIEVAL_COLUMNS), "nDCG@10 (train)"]
    lines = [_row(header), _row(["---"] * len(header))]
    for name, (ndcg, recall) in SCIFACT_BASELINES.items():
        lines.append(_row([name, f"{ndcg:.3f}", f"{recall:.3f}" if recall else "", "", "", "", "", ""]))
    selected = result["config"].get("selected_on_train")
    for name, scores in result["results"].items():
        ours = scores[split]
        name = f"**{name}** (best on train)" if name == selected else name
        train = scores.get("train", {}).get("ndcg@10")
        lines.append(
            _row([name, *(f"{ours[c]:.3f}" for c in RETRIEVAL_COLUMNS), f"{train:.3f}" if train else ""])
        )
    tuned = result["config"].get("tuned_on")
    note = (
        f"Free parameters tuned on the {tuned} split only; the {split} split was scored once."
        if tuned
        else ""
    )
    return "\n".join([f"### {result['eval']}", "", *lines, "", note, _footer(result)])


def hotpot_table(result: dict[str, Any]) -> str:
    lines = [_row(["retrieval", "both gold in set", "at least one gold", "notes"]), _row(["---"] * 4)]
    for name, scores in result["results"].items():
        notes = ", ".join(
            f"{k}={v}" for k, v in scores.items() if k not in ("both_gold", "at_least_one_gold")
        )
        lines.append(_row([name, f"{scores['both_gold']:.3f}", f"{scores['at_least_one_gold']:.3f}", notes]))
    return "\n".join(
        [f"### {result['eval']} ({result['config']['questions']} questions)", "", *lines, "", _footer(result)]
    )


def _num(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "n/a"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows)]


def _recall_table(recall: dict[str, Any]) -> list[str]:
    places = (("cited", "cited by the report"), ("gathered", "in the gathered evidence"))
    rows = [
        [label, *(_num(recall[w][k]) for k in ("gold_share", "all_gold", "any_gold"))] for w, label in places
    ]
    return _table(["evidence recall", "gold docs (share)", "all gold", "at least one gold"], rows)


def _quality_rows(results: dict[str, Any]) -> list[list[str]]:
    rows = []
    for key in ("citation_precision", "citation_precision_lexical"):
        if key in results:
            cp = results[key]
            note = f"{cp['supported']}/{cp['claims']} claims; per-report mean {_num(cp['macro_precision'])}"
            rows.append([f"citation precision (judge {cp['judge']})", _num(cp["precision"]), note])
    answers = results.get("answer_em_f1")
    if isinstance(answers, dict):
        rows += [
            [f"answer EM / F1 ({group})", f"{_num(s['em'])} / {_num(s['f1'])}", f"{s['questions']} questions"]
            for group, s in answers.items()
        ]
    elif answers is not None:
        rows.append(["answer EM / F1", str(answers), ""])
    agreement = results.get("verdict_agreement")
    if agreement:
        rows.append(["verdict agreement (all)", _num(agreement["accuracy"]), f"{agreement['claims']} claims"])
        rows += [
            [f"verdict agreement (gold {label})", _num(s["accuracy"]), f"{s['claims']} claims"]
            for label, s in agreement["by_gold_label"].items()
        ]
    return rows


def _confusion_table(agreement: dict[str, Any]) -> list[str]:
    confusion = agreement["confusion_gold_to_predicted"]
    labels = list(confusion)
    rows = [[f"gold {g}", *(str(confusion[g][p]) for p in labels)] for g in labels]
    return _table(["verdicts", *(f"predicted {p}" for p in labels)], rows)


def _cost_table(cost: dict[str, dict[str, float]]) -> list[str]:
    names = {
        "llm_calls": "LLM calls",
        "model_calls": "engine calls (offline included)",
        "sequential_llm_rounds": "sequential LLM rounds (critical path)",
        "prompt_tokens": "prompt tokens",
        "completion_tokens": "completion tokens",
        "seconds": "wall seconds",
    }
    measured = {k: label for k, label in names.items() if k in cost and cost[k].get("reports", 1)}
    rows = [[label, *(f"{cost[k][s]:g}" for s in ("mean", "p50", "max"))] for k, label in measured.items()]
    return _table(["cost per report", "mean", "p50", "max"], rows)


def report_eval_table(result: dict[str, Any]) -> str:
    """A report eval (evals/report_eval.py): recall, citation precision, answers or verdicts, cost."""
    config, results = result["config"], result["results"]
    reports = results["reports"]
    summary = (
        f"{config['engine_kind']} `{config['engine']}`; corpus: {config['corpus']}. {reports['complete']} of "
        f"{reports['count']} reports complete, {reports['with_claims']} with claims (mean {reports['mean_claims']})."
    )
    if reports.get("quoted_share") is not None:
        summary += (
            f" {reports['quoted_share']:.0%} of claims were replaced by their quote (the writer's words"
            " went beyond or reordered it)."
        )
    left_out = results["evidence_recall"].get("left_out_without_gold")
    if left_out:
        summary += f" Evidence recall leaves out the {left_out} NEI claims (no gold documents)."
    noun = "claims" if config.get("dataset") == "scifact" else "questions"
    lines = [f"### {result['eval']} ({config['questions']} {noun})", "", summary, ""]
    lines += [*_recall_table(results["evidence_recall"]), ""]
    lines += [*_table(["report quality", "value", "notes"], _quality_rows(results)), ""]
    if "verdict_agreement" in results:
        lines += [*_confusion_table(results["verdict_agreement"]), ""]
    lines += [*_cost_table(results["cost_per_report"]), ""]
    return "\n".join([*lines, _footer(result)])


def rerank_table(result: dict[str, Any]) -> str:
    """A reranking eval (evals/rerank_eval.py): with and without the reranker, and what it cost."""
    config = result["config"]

    def cell(value: Any) -> str:
        if isinstance(value, list):
            return " / ".join(map(cell, value))
        return str(value) if isinstance(value, int) else _num(value)

    rows = [[name, cell(value)] for name, value in result["results"].items()]
    summary = (
        f"{config['dataset']}, {config['queries']} seeded queries (seed {config['seed']}); reranker "
        f"`{config['reranker']}`, depth {config['depth']}, window {config['window']}, step {config['step']}."
    )
    lines = [f"### {result['eval']}", "", summary, "", *_table(["figure", "value"], rows), ""]
    return "\n".join([*lines, _footer(result)])


def verdict_table(result: dict[str, Any]) -> str:
    """A verifier eval (evals/verdict_eval.py): Sleuth's verdict and the model's own, per gold label."""
    config, results = result["config"], result["results"]
    labels = list(results["verdict_agreement"]["by_gold_label"])
    rows = [
        [which, _num(a["accuracy"]), *(_num(a["by_gold_label"][g]["accuracy"]) for g in labels)]
        for which, a in (
            ("Sleuth's verdict", results["verdict_agreement"]),
            ("the model's own label", results["model_verdict_agreement"]),
        )
    ]
    tokens = results["tokens_per_claim"]
    summary = (
        f"SciFact {config['split']}, {config['claims']} claims ({config['sample']}); engine `{config['engine']}`, "
        f"prompt `{config['prompt']}`; passages: {config['passages']}. Per claim: {results['seconds_per_claim']} s, "
        f"{tokens['prompt_tokens']} + {tokens['completion_tokens']} tokens; {results['calls_repaired']} repairs."
    )
    lines = [f"### {result['eval']}", "", summary, ""]
    lines += [*_table(["verdict agreement", "all", *(f"gold {g}" for g in labels)], rows), ""]
    lines += [*_confusion_table(results["verdict_agreement"]), ""]
    return "\n".join([*lines, _footer(result)])


def render(results_dir: Path = RESULTS_DIR) -> str:
    sections = []
    for result in load_results(results_dir):
        if result["eval"].startswith("scifact"):
            sections.append(retrieval_table(result))
        elif result["eval"].startswith("hotpotqa"):
            sections.append(hotpot_table(result))
        elif result["eval"].startswith("report-"):
            sections.append(report_eval_table(result))
        elif result["eval"].startswith("rerank-"):
            sections.append(rerank_table(result))
        elif result["eval"].startswith("verdict-"):
            sections.append(verdict_table(result))
    return "\n\n".join(["## Sleuth eval results", *sections]) + "\n" if sections else "No eval results yet.\n"


if __name__ == "__main__":
    print(render(), end="")
