"""One JSON result per eval run under evals/results/: config, data checksums, code version, metrics,
wall time and peak memory. The file is written to a temporary name and renamed, never half-written."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evals.datasets import REPO_ROOT

RESULTS_DIR = REPO_ROOT / "evals" / "results"


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@dataclass
class EvalRun:
    """Collects one eval's facts; ``finish`` stamps time and memory and writes the JSON."""

    eval_name: str
    config: dict[str, Any]
    dataset_sha256: dict[str, str]
    started: float = field(default_factory=time.perf_counter)
    results: dict[str, Any] = field(default_factory=dict)

    def finish(self, results_dir: Path = RESULTS_DIR, **extra: Any) -> Path:
        payload = {
            "eval": self.eval_name,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "git_commit": git_commit(),
            "config": self.config,
            "dataset_sha256": self.dataset_sha256,
            "results": self.results,
            "wall_seconds": round(time.perf_counter() - self.started, 1),
            "peak_rss_mb": peak_rss_mb(),
            "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            **extra,
        }
        results_dir.mkdir(parents=True, exist_ok=True)
        path = results_dir / f"{self.eval_name}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
        os.replace(tmp, path)
        return path


def row_log(results_dir: Path, name: str) -> Path:
    """Where a long eval keeps its finished rows: beside its results and in git (``rows/``), so that a run
    stopped with a session resumes in the next one, on another machine."""
    return results_dir / "rows" / f"{name}.jsonl"


class RowLog:
    """The finished rows of a long eval, one JSON line each as it finishes (``row_log``), so a stopped run
    picks up where it stopped. A row with an ``error`` is run again."""

    def __init__(self, path: Path | None) -> None:
        self.path = path  # None: kept in memory only
        self.done: dict[str, dict[str, Any]] = {}
        if path is not None and path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                row = json.loads(line) if line.strip() else {}
                if row and not row.get("error"):
                    self.done[str(row["id"])] = row

    def add(self, row: dict[str, Any]) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(row) + "\n")
        self.done[str(row["id"])] = row
