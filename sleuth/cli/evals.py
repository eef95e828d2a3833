"""``sleuth eval scifact|hotpotqa|reports|report``: a thin launcher for the eval programs in ``evals/``.

The evals live beside the application, not inside it (nothing in sleuth/graphs/agents/tools imports
``evals``; tests/unit/test_layering.py keeps that true), and are not part of the installed package.
So this runs them as ``python -m evals.retrieval_eval`` / ``evals.report_eval`` / ``evals.report`` from
the source checkout and passes their output and exit status through.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

SOURCE_ROOT = Path(__file__).resolve().parents[2]

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="eval data folder (default: ../shared/data)")
]


def _launch(module: str, args: list[str]) -> None:
    if not (SOURCE_ROOT / "evals" / "__init__.py").is_file():
        typer.echo(
            "the evals/ folder is not here: run `sleuth eval` from a source checkout of Sleuth", err=True
        )
        raise typer.Exit(2)
    code = subprocess.call([sys.executable, "-m", module, *args], cwd=SOURCE_ROOT)
    raise typer.Exit(code)


def _data_args(data_dir: Path | None) -> list[str]:
    return ["--data-dir", str(data_dir.expanduser().resolve())] if data_dir else []


def scifact(
    data_dir: DataDir = None, split: Annotated[str, typer.Option(help="test or train")] = "test"
) -> None:
    """BEIR SciFact retrieval: BM25, dense, hybrid and the improvements (tuned on train)."""
    _launch("evals.retrieval_eval", ["scifact", "--split", split, *_data_args(data_dir)])


def hotpotqa(
    data_dir: DataDir = None,
    questions: Annotated[int, typer.Option(help="seeded sample size")] = 100,
    all_questions: Annotated[bool, typer.Option("--all", help="all 500 questions")] = False,
    graph: Annotated[bool, typer.Option(help="also run the research graph (offline engine)")] = False,
) -> None:
    """HotpotQA-500 pooled corpus: gold supporting paragraphs in the top 10 / the graph's evidence."""
    args = ["hotpotqa", "--questions", str(questions), *_data_args(data_dir)]
    _launch(
        "evals.retrieval_eval", args + (["--all"] if all_questions else []) + (["--graph"] if graph else [])
    )


def reports(
    dataset: Annotated[str, typer.Argument(help="hotpotqa or scifact")],
    data_dir: DataDir = None,
    questions: Annotated[int, typer.Option(help="seeded sample size (questions or claims)")] = 100,
    all_questions: Annotated[
        bool, typer.Option("--all", help="every question (HotpotQA 500, SciFact 300)")
    ] = False,
    seed: Annotated[int, typer.Option(help="sampling seed")] = 7,
    split: Annotated[str, typer.Option(help="SciFact: test to report, train to design on")] = "test",
) -> None:
    """Report quality: research each question, then score the report it gets.

    Scores: evidence recall (gold documents cited and gathered), citation precision by a judge
    independent of the verifier, HotpotQA answer EM/F1 (needs an LLM) or SciFact verdict agreement,
    and cost per report. Uses the configured LLM if any, else the offline engine.

    Example: sleuth eval reports hotpotqa --questions 100
    """
    if dataset not in ("hotpotqa", "scifact"):
        typer.echo(f"unknown dataset {dataset!r}: choose hotpotqa or scifact", err=True)
        raise typer.Exit(2)
    args = [
        dataset,
        "--questions",
        str(questions),
        "--seed",
        str(seed),
        "--split",
        split,
        *_data_args(data_dir),
    ]
    _launch("evals.report_eval", args + (["--all"] if all_questions else []))


def verdicts(
    data_dir: DataDir = None,
    split: Annotated[str, typer.Option(help="test to report, train to design on")] = "test",
    claims: Annotated[int, typer.Option(help="seeded sample, drawn as `eval reports scifact` draws")] = 20,
    per_label: Annotated[
        int | None, typer.Option("--per-label", help="instead: this many claims of each gold label")
    ] = None,
) -> None:
    """The verifier alone: SciFact claims against the abstracts they cite, one verifier call each.

    Measures verdict agreement (SUPPORT / CONTRADICT / NEI) apart from retrieval and writing, for
    Sleuth's verdict and the model's own label before the verifier's rules; cheap enough to compare
    verifier prompts. Uses the configured LLM if any, else the offline engine.

    Example: sleuth eval verdicts --split train --per-label 8
    """
    args = ["--split", split, "--claims", str(claims), *_data_args(data_dir)]
    _launch("evals.verdict_eval", args + (["--per-label", str(per_label)] if per_label else []))


def report() -> None:
    """Print the Markdown table of the latest results in evals/results/."""
    _launch("evals.report", [])


def register(app: typer.Typer) -> None:
    evals = typer.Typer(
        help="Reproducible evals on fixed public corpora (see evals/README.md).", no_args_is_help=True
    )
    evals.command("scifact")(scifact)
    evals.command("hotpotqa")(hotpotqa)
    evals.command("reports")(reports)
    evals.command("verdicts")(verdicts)
    evals.command("report")(report)
    app.add_typer(evals, name="eval")
