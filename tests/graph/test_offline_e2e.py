"""Offline engine end to end on the ingested sample corpus: every claim carries a citation, every
citation resolves to an existing chunk span of a stored document, that span supports the claim, and
the verification line counts right."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sleuth.agents.textmatch import containment
from sleuth.research_app import run_research
from sleuth.tools.db.runs import RunLog
from sleuth.wiring import open_corpus
from tests.graph.sample_corpus import private_copy

pytestmark = pytest.mark.slow  # ingesting the sample corpus embeds ~170 chunks

QUESTIONS = [
    "What is reciprocal rank fusion and why does it need no score normalisation?",
    "Compare BM25 and dense retrieval for exact-match queries",
    "How does retrieval-augmented generation reduce hallucinations?",
]


@pytest.fixture
def settings(sample_data_dir: Path, tmp_path: Path):
    return private_copy(sample_data_dir, tmp_path / "data")


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_claim_cites_a_real_span_that_supports_it(settings, tmp_path: Path, question: str) -> None:
    result = run_research(settings, question, out=tmp_path / "report.json", fmt="json")
    report = json.loads(result.report_path.read_text())
    corpus = open_corpus(settings)
    sources = {s["n"]: s for s in report["sources"]}
    claims = [c for s in report["sections"] for c in s["claims"]]
    assert len(claims) >= 3, report
    for claim in claims:
        assert claim["citations"], claim
        for n in claim["citations"]:
            source = sources[n]
            passage = corpus.get_passage(source["chunk_id"])
            assert passage is not None and (passage.start, passage.end) == (source["start"], source["end"])
            span = corpus.document_text(source["doc_id"])[source["start"] : source["end"]]
            assert span == passage.text and Path(source["source"]).is_file()
            assert containment(claim["text"], span) >= 0.9, (claim["text"], span)
            assert claim["text"].replace("`", "") in span.replace("**", "").replace(
                "`", ""
            )  # extractive quote
    supported = sum(1 for c in claims if c["verdict"] == "supported")
    assert (
        report["verification_line"]
        == f"{supported} of {len(claims)} claims supported by their cited passages."
    )
    assert report["engine_label"] == "Written by the offline engine (no LLM)" and report["complete"]
    assert RunLog(settings.duckdb_path).get(result.run_id)["claims_supported"] == supported


def test_comparison_gets_a_section_per_item_and_an_off_topic_question_gets_no_claims(
    settings, tmp_path: Path
) -> None:
    compared = run_research(settings, "BM25 vs dense retrieval", fmt="md").report
    assert [s["question"] for s in compared["sections"]] == [
        "What are the strengths and weaknesses of BM25?",
        "What are the strengths and weaknesses of dense retrieval?",
        "How do BM25 and dense retrieval compare?",
    ]
    assert all(s["claims"] for s in compared["sections"])
    off_topic = run_research(settings, "How do I bake sourdough bread?", fmt="md")
    assert off_topic.report["sources"] == [] and off_topic.report["sections"][0]["claims"] == []
    markdown = off_topic.report_path.read_text()
    assert "No passage in the corpus matched this question" in markdown
    assert off_topic.report["passages_found"] == 0
    assert re.search(r"\*\*Verification:\*\* 0 of 0 claims supported", markdown)
