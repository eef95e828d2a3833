"""Finalize node: turns the run's state into the report record (plain JSON) that sleuth/reports/render.py
renders as Markdown or JSON. Citation numbers follow first use; every number resolves to a chunk
retrieved in this run (anything else is refused here, a second line of defence after the writer)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sleuth.agents.budget import FREE_MODELS, usage_totals
from sleuth.agents.common import event, section_evidence, turn_usage
from sleuth.agents.deps import ResearchDeps
from sleuth.agents.injection import not_used_passages

UNWRITTEN_EVIDENCE = 5


def engine_label(engine: str) -> str:
    if engine in FREE_MODELS:
        return "Written by the offline engine (no LLM)"
    return f"Written by {engine.removeprefix('openai:')}"


class SourceTable:
    """Numbers cited chunks in order of first citation. ``numbers`` are those already given in the thread
    (earlier turns): a chunk keeps its number, a new chunk gets the next free one."""

    def __init__(
        self, evidence: Mapping[str, Mapping[str, Any]], numbers: Mapping[str, int] | None = None
    ) -> None:
        self.evidence = evidence
        self.number_of: dict[str, int] = dict(numbers or {})
        self.cited: set[str] = set()

    def cite(self, chunk_ids: list[str]) -> list[int]:
        numbers = []
        for chunk_id in chunk_ids:
            if chunk_id in self.evidence:  # never cite what this run did not retrieve
                if chunk_id not in self.number_of:
                    self.number_of[chunk_id] = max(self.number_of.values(), default=0) + 1
                self.cited.add(chunk_id)
                numbers.append(self.number_of[chunk_id])
        return numbers

    def sources(self) -> list[dict[str, Any]]:
        """The sources cited in this report, by number."""
        # the passage text travels with the report, so an exported report quotes what each [n] rests on
        keys = ("chunk_id", "doc_id", "title", "source", "start", "end", "origin", "fetched_at", "text")
        cited = sorted((n, cid) for cid, n in self.number_of.items() if cid in self.cited)
        return [{"n": n, **{k: self.evidence[cid].get(k) for k in keys}} for n, cid in cited]


def _claim_view(claim: Mapping[str, Any], table: SourceTable) -> dict[str, Any]:
    """A claim as the report shows it. ``quote``: where its words are, as source number and character
    offsets into that source's ``text``; ``quoted``: the claim is those words (agents/anchoring.py)."""
    view = {k: claim.get(k) for k in ("id", "text", "verdict", "reason")}
    view["citations"] = table.cite(list(claim["citations"]))
    view["conflicts"] = table.cite(list(claim.get("conflicts", [])))
    quote = claim.get("quote")
    quoted_source = table.cite([quote["chunk_id"]]) if quote else []
    if quoted_source:
        view["quote"] = {"n": quoted_source[0], "start": quote["start"], "end": quote["end"]}
    view["quoted"] = bool(claim.get("quoted"))
    return view


def retrieval_view(trace: list[Mapping[str, Any]], sq_id: str) -> dict[str, Any]:
    """Where a section's evidence came from: "web" when any round searched the web, else "local" when
    any round searched, else "none"; with that round's reason and every round's decision."""
    rounds = [
        {
            "round": e.get("round"),
            "retrieval": e.get("retrieval", "local" if e.get("retrieve") else "none"),
            "reason": e.get("reason", ""),
        }
        for e in trace
        if e.get("node") == "decide" and e.get("sub_question") == sq_id
    ]
    for kind in ("web", "local"):
        chosen = next((r for r in rounds if r["retrieval"] == kind), None)
        if chosen is not None:
            return {"retrieval": kind, "retrieval_reason": chosen["reason"], "retrieval_rounds": rounds}
    reason = rounds[-1]["reason"] if rounds else "not researched"
    return {"retrieval": "none", "retrieval_reason": reason, "retrieval_rounds": rounds}


def web_summary(state: Mapping[str, Any], mode: str) -> dict[str, Any]:
    """The web part of the report: every page used and every URL skipped (with why), search errors."""
    records = list(state.get("web_sources", {}).values())
    steps = [e for e in state.get("trace", []) if e.get("node") == "web"]
    return {
        "mode": mode,
        "searched": bool(steps),
        "pages": [r for r in records if r["status"] != "skipped"],
        "skipped": [r for r in records if r["status"] == "skipped"],
        "search_errors": [err for e in steps for err in e.get("search_errors", [])],
        "from_cache": sum(int(e.get("from_cache", 0)) for e in steps),
        "fetched": sum(int(e.get("fetched", 0)) for e in steps),
    }


def _section(sq: Mapping[str, Any], state: Mapping[str, Any], table: SourceTable) -> dict[str, Any]:
    claims = state.get("claims", {}).get(sq["id"])
    section: dict[str, Any] = {"id": sq["id"], "question": sq["question"], "written": claims is not None}
    section.update(retrieval_view(state.get("trace", []), sq["id"]))
    shown = [c for c in claims or [] if c["verdict"] in (None, "supported")]
    section["claims"] = [_claim_view(c, table) for c in shown if table.cite(list(c["citations"]))]
    section["passages_found"] = sum(
        1 for p in state.get("evidence", {}).values() if sq["id"] in p.get("sub_questions", ())
    )
    if claims is None:
        found = section_evidence(state.get("evidence", {}), sq["id"], UNWRITTEN_EVIDENCE)
        section["unwritten_evidence"] = [table.cite([p["chunk_id"]])[0] for p in found]
    return section


def sequential_llm_rounds(records: list[Mapping[str, Any]]) -> int:
    """Model calls on the critical path: how many rounds of calls had to wait for each other, however
    parallel the endpoint. Per research round the sub-questions' branches run side by side (the longest
    branch counts), then the writer and the verifier; a repair re-ask waits for its call."""
    depth: dict[tuple[Any, str], dict[Any, int]] = {}
    for record in records:
        if record.get("model") in FREE_MODELS:
            continue
        branch = "section" in record
        stage = depth.setdefault((record.get("round"), "branch" if branch else record["task"]), {})
        lane = record.get("section")
        stage[lane] = stage.get(lane, 0) + 1
    return sum(max(lanes.values()) for lanes in depth.values())


def usage_summary(records: list[Mapping[str, Any]]) -> dict[str, Any]:
    """What the turn's model calls cost and where the time went: calls, tokens, seconds per task, how
    many answers needed the repair re-ask or ran without ``json_schema``, passages left out to fit."""
    calls, tokens = usage_totals(records)
    paid = [r for r in records if r.get("model") not in FREE_MODELS]
    prompt_tokens = sum(int(r.get("prompt_tokens", 0)) for r in paid)
    seconds: dict[str, float] = {}
    for record in paid:
        seconds[record["task"]] = round(
            seconds.get(record["task"], 0.0) + float(record.get("seconds", 0.0)), 1
        )
    return {
        "llm_calls": calls,
        "tokens": tokens,
        "prompt_tokens": prompt_tokens,  # hosted APIs price prompt and completion tokens apart
        "completion_tokens": tokens - prompt_tokens,
        "seconds_by_task": seconds,
        "sequential_llm_rounds": sequential_llm_rounds(paid),
        "repairs": sum(1 for r in paid if r.get("repair")),
        "without_json_schema": sum(
            1 for r in paid if r.get("structured_output") not in (None, "json_schema")
        ),
        "evidence_dropped": sum(int(r.get("evidence_dropped", 0)) for r in paid if not r.get("repair")),
    }


def verification_summary(claims: list[Mapping[str, Any]]) -> dict[str, int]:
    counts = {
        v: sum(1 for c in claims if c["verdict"] == v) for v in ("supported", "unsupported", "contradicted")
    }
    return {**counts, "unchecked": sum(1 for c in claims if c["verdict"] is None), "total": len(claims)}


def build_report(state: Mapping[str, Any], deps: ResearchDeps | None = None) -> dict[str, Any]:
    table = SourceTable(state.get("evidence", {}), state.get("source_numbers", {}))
    sections = [_section(sq, state, table) for sq in state.get("plan", [])]
    in_plan = {sq["id"] for sq in state.get("plan", [])}  # this turn's sections, not earlier turns'
    all_claims = [c for sq_id, items in state.get("claims", {}).items() if sq_id in in_plan for c in items]
    conflicts = [  # a dropped claim is listed once, under dropped claims
        _claim_view(c, table)
        for c in all_claims
        if c["verdict"] == "contradicted" or (c["verdict"] == "supported" and c.get("conflicts"))
    ]
    dropped = [_claim_view(c, table) for c in all_claims if c["verdict"] == "unsupported"]
    engine = str(state.get("engine", ""))
    return {
        "question": state.get("question", ""),
        "assumption": state.get("assumption", ""),
        "run_id": state.get("run_id", ""),
        "engine": engine,
        "engine_label": engine_label(engine),
        "complete": not state.get("stop_reason"),
        # False when the run found nothing that answers: a report with no claim is never "complete"
        "answered": any(section["claims"] for section in sections),
        "passages_found": sum(section["passages_found"] for section in sections),
        "stop_reason": state.get("stop_reason"),
        "iterations": int(state.get("iteration", 1)),
        "sections": sections,
        "conflicts": conflicts,
        "dropped_claims": dropped,
        "not_used": not_used_passages(
            p for p in state.get("evidence", {}).values() if in_plan & set(p.get("sub_questions", ()))
        ),
        "sources": table.sources(),
        "verification": verification_summary(all_claims),
        "usage": usage_summary(turn_usage(state)),
        "web": web_summary(state, deps.web.mode if deps is not None and deps.web is not None else "off"),
    }


def finalize_node(state: Mapping[str, Any], deps: ResearchDeps) -> dict[str, Any]:
    report = build_report(state, deps)
    return {
        "report": report,
        "source_numbers": {s["chunk_id"]: s["n"] for s in report["sources"]},
        "trace": [event("finalize", **report["verification"], complete=report["complete"])],
    }
