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
    index = result.get("index", {})
    built = "reused cached index" if index.get("cached") else f"indexing {index.get('index_seconds', '?')} s"
    return (
        f"_{result['eval']}: commit `{result['git_commit'][:12]}`, {result['created_at']}, "
        f"wall {result['wall_seconds']} s ({built}), peak RSS {result['peak_rss_mb']} MB, {result.get('cpus')} CPUs._"
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


def render(results_dir: Path = RESULTS_DIR) -> str:
    sections = []
    for result in load_results(results_dir):
        if result["eval"].startswith("scifact"):
            sections.append(retrieval_table(result))
        elif result["eval"].startswith("hotpotqa"):
            sections.append(hotpot_table(result))
    return "\n\n".join(["## Sleuth eval results", *sections]) + "\n" if sections else "No eval results yet.\n"


if __name__ == "__main__":
    print(render(), end="")
