"""Rendering a research report record (built by agents/report.py) as Markdown or JSON.

The record is plain JSON: question, engine_label, complete/stop_reason, sections with claims (each with
citation numbers and where its evidence came from: ``retrieval`` "local", "web" or "none" with the
reason), conflicts, dropped claims, sources (n -> title, path/URL, chunk id, char span, and for web pages
the fetch time), the web summary (pages used, skipped URLs with reasons, search errors) and the
verification counts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

Report = Mapping[str, Any]


def verification_line(report: Report) -> str:
    counts = report["verification"]
    checked = counts["total"] - counts["unchecked"]
    line = f"{counts['supported']} of {checked} claims supported by their cited passages"
    if counts["unchecked"]:
        line += f"; {counts['unchecked']} not checked because the run stopped early"
    return line + "."


def claim_text(claim: Mapping[str, Any]) -> str:
    """A claim that is its source's own words shows in quotation marks."""
    return f"“{claim['text']}”" if claim.get("quoted") else str(claim["text"])


def _cites(numbers: list[int]) -> str:
    return "".join(f"[{n}]" for n in numbers)


def _section_lines(section: Mapping[str, Any], complete: bool) -> list[str]:
    lines = [f"## {section['question']}", ""]
    if section.get("retrieval") == "web":
        lines += [f"_Searched the web: {section.get('retrieval_reason', '')}._", ""]
    for claim in section["claims"]:
        mark = " (not verified)" if claim["verdict"] is None else ""
        lines.append(f"- {claim_text(claim)} {_cites(claim['citations'])}{mark}")
    if not section["written"]:
        found = section.get("unwritten_evidence", [])
        lines.append("_Not written: the run stopped before this section was drafted._")
        if found:
            lines.append(f"Evidence found for it: {_cites(found)}.")
    elif not section["claims"] and section.get("passages_found"):
        found = section["passages_found"]
        lines.append(f"_{found} passage{'s' if found != 1 else ''} found; none answered this question._")
    elif not section["claims"]:
        lines.append("_No passage in the corpus matched this question._")
    return [*lines, ""]


def _claim_list(title: str, intro: str, claims: list[Mapping[str, Any]]) -> list[str]:
    if not claims:
        return []
    lines = [f"## {title}", "", intro, ""]
    for claim in claims:
        detail = f" (conflicting: {_cites(claim['conflicts'])})" if claim.get("conflicts") else ""
        reason = f" — {claim['reason']}" if claim.get("reason") else ""
        lines.append(f"- {claim['text']} {_cites(claim['citations'])}{detail}{reason}")
    return [*lines, ""]


def _source_line(source: Mapping[str, Any]) -> str:
    span = f"chunk {source['chunk_id']}, chars {source['start']}-{source['end']}"
    if source.get("origin") == "web":
        span = f"web page fetched {source.get('fetched_at') or 'at an unknown time'}; {span}"
    # "- [n]" not "n.": Markdown renumbers an ordered list, and follow-up turns cite non-consecutive numbers
    return f"- [{source['n']}] {source['title'] or source['doc_id']} — {source['source']} ({span})"


def _web_lines(web: Mapping[str, Any] | None) -> list[str]:
    """Skipped sources and failed searches: every URL the run could not use, with the reason."""
    if not web or not (web.get("skipped") or web.get("search_errors")):
        return []
    lines = ["## Skipped sources", ""]
    lines += [f"- {item['url']} — {item['reason']}" for item in web.get("skipped", [])]
    lines += [f"- web search for “{e['query']}” — {e['reason']}" for e in web.get("search_errors", [])]
    return [*lines, ""]


def _not_used_lines(passages: list[Mapping[str, Any]]) -> list[str]:
    """Passages that spoke to an AI or the reader: kept out of the answer, shown so nothing is hidden."""
    if not passages:
        return []
    lines = ["## Not used: looked like instructions", ""]
    lines += [f"- {p['title'] or p['source']} — {p['source']}: “{p['text']}”" for p in passages]
    return [*lines, ""]


def render_markdown(report: Report) -> str:
    lines = [f"# {report['question']}", "", f"_{report['engine_label']}._", ""]
    if report.get("assumption"):
        lines += [f"> **Assumed:** {report['assumption']}", ""]
    if not report["complete"]:
        lines += [f"> **Partial report:** the run stopped early because {report['stop_reason']}.", ""]
    if not report.get("answered", True):
        found = report.get("passages_found", 0)
        lines += [
            f"> **Not answered:** {found} passages were found, and none of them answered the question.",
            "",
        ]
    for section in report["sections"]:
        lines += _section_lines(section, report["complete"])
    lines += _claim_list(
        "Conflicting evidence",
        "These claims meet passages that say otherwise; both sides are cited.",
        report["conflicts"],
    )
    lines += _claim_list(
        "Claims dropped",
        "Drafted claims that their cited passages did not support; they are not part of the answer above.",
        report["dropped_claims"],
    )
    lines += _not_used_lines(report.get("not_used", []))
    lines += ["## Sources", ""]
    lines += [_source_line(source) for source in report["sources"]] or ["(none)"]
    lines += ["", *_web_lines(report.get("web"))]
    lines += [f"**Verification:** {verification_line(report)}", ""]
    cost = cost_line(report.get("usage", {}))
    return "\n".join([*lines, cost, ""] if cost else lines)


def cost_line(usage: Mapping[str, Any]) -> str:
    """Calls, tokens and where the time went, when a model was called at all."""
    if not usage.get("llm_calls"):
        return ""
    by_task = usage.get("seconds_by_task", {})
    spent = ", ".join(f"{task} {seconds:g} s" for task, seconds in by_task.items())
    rounds = usage.get("sequential_llm_rounds")
    calls = f"{usage['llm_calls']} LLM calls" + (f" in {rounds} sequential rounds" if rounds else "")
    line = f"**Cost:** {calls}, {usage['tokens']:,} tokens, {sum(by_task.values()):g} s"
    line += f" ({spent})" if spent else ""
    extras = []
    if usage.get("repairs"):
        extras.append(f"{usage['repairs']} answers needed a repair")
    if usage.get("evidence_dropped"):
        extras.append(f"{usage['evidence_dropped']} passages left out to fit the context window")
    return line + (f"; {'; '.join(extras)}." if extras else ".")


def render_json(report: Report) -> str:
    return json.dumps(
        {**report, "verification_line": verification_line(report)}, indent=2, ensure_ascii=False
    )
