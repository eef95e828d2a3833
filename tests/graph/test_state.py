"""The state reducers that merge what parallel sub-question branches write."""

from __future__ import annotations

from sleuth.graphs.state import first_reason, merge_evidence, merge_queries, merge_status, replace_sections


def test_evidence_merges_by_chunk_id_keeping_the_best_score_and_every_sub_question() -> None:
    left = {
        "c1": {
            "chunk_id": "c1",
            "score": 0.2,
            "sub_questions": ["sq1"],
            "sq_scores": {"sq1": 0.2},
            "round": 1,
        }
    }
    right = {
        "c1": {
            "chunk_id": "c1",
            "score": 0.5,
            "sub_questions": ["sq2"],
            "sq_scores": {"sq2": 0.5},
            "round": 2,
        },
        "c2": {
            "chunk_id": "c2",
            "score": 0.1,
            "sub_questions": ["sq2"],
            "sq_scores": {"sq2": 0.1},
            "round": 2,
        },
    }
    merged = merge_evidence(left, right)
    assert merged["c1"] == {
        "chunk_id": "c1",
        "score": 0.5,
        "sub_questions": ["sq1", "sq2"],
        "sq_scores": {"sq1": 0.2, "sq2": 0.5},
        "round": 1,
    }
    assert merged["c2"]["sub_questions"] == ["sq2"] and left["c1"]["score"] == 0.2  # inputs untouched
    assert merge_evidence(merged, right) == merged  # idempotent


def test_status_queries_sections_and_stop_reason_merge_as_documented() -> None:
    status = merge_status({"sq1": {"status": "open", "round": 0}}, {"sq1": {"status": "researched"}})
    assert status == {"sq1": {"status": "researched", "round": 0}}
    assert merge_queries({"sq1": ["a", "b"]}, {"sq1": ["b", "c"], "sq2": ["d"]}) == {
        "sq1": ["a", "b", "c"],
        "sq2": ["d"],
    }
    assert replace_sections({"sq1": [1], "sq2": [2]}, {"sq1": [3]}) == {"sq1": [3], "sq2": [2]}
    assert first_reason(None, "budget") == "budget" and first_reason("first", "second") == "first"


def test_the_graph_publishes_its_input_and_output_schemas() -> None:
    """LangGraph Server and Studio derive forms from these; pydantic refuses typing.TypedDict on 3.11."""
    from pydantic import TypeAdapter

    from sleuth.agents.deps import ResearchDeps
    from sleuth.graphs.research import build_graph
    from sleuth.graphs.state import ResearchState
    from sleuth.wiring import limits_from_settings, offline_engine
    from tests.graph.helpers import TinyCorpus

    graph = build_graph(
        ResearchDeps(model=offline_engine(), search=TinyCorpus(), limits=limits_from_settings())
    )
    inputs = graph.get_input_jsonschema()
    assert inputs["properties"]["question"]["type"] == "string"
    outputs = graph.get_output_jsonschema()
    claim = outputs["$defs"]["Claim"]["properties"]
    assert set(claim["verdict"]["anyOf"][0]["enum"]) == {"supported", "unsupported", "contradicted"}
    status = outputs["$defs"]["SectionStatus"]["properties"]["status"]
    assert set(status["enum"]) == {"open", "researched", "written", "verified", "gap"}
    TypeAdapter(ResearchState).validate_python(
        {"question": "q", "plan": [{"id": "sq1", "question": "q", "needs": ""}]}
    )
