"""SciFact pipeline end to end on a tiny slice: 30 docs holding the gold docs of 5 queries per split."""

import json
from pathlib import Path

import pytest

from evals.datasets import DEFAULT_DATA_DIR, SCIFACT_DIR
from evals.retrieval_eval import run_scifact

pytestmark = pytest.mark.skipif(
    not (DEFAULT_DATA_DIR / SCIFACT_DIR / "corpus.jsonl.gz").is_file(), reason="SciFact data not present"
)


def test_scifact_subset_writes_a_result_with_sane_metrics(tmp_path: Path) -> None:
    path = run_scifact(None, "test", subset_docs=30, cache_root=tmp_path / "cache", results_dir=tmp_path)
    result = json.loads(path.read_text())
    assert result["eval"] == "scifact-test-subset30"
    assert set(result) >= {"config", "dataset_sha256", "git_commit", "results", "wall_seconds", "peak_rss_mb"}
    assert len(result["dataset_sha256"]["corpus.jsonl.gz"]) == 64
    assert result["config"]["tuned_on"] == "train"
    assert result["index"]["documents"] <= 60  # the test and train slices share one corpus
    for name, scores in result["results"].items():
        assert 0.0 < scores["test"]["ndcg@10"] <= 1.0, name
        assert set(scores["test"]) >= {"ndcg@10", "recall@100", "mrr@10", "map@10", "hits@10"}
        assert "ndcg@10" in scores["train"]
