"""Reports as Word documents (python-docx): the claims with their [n], then the numbered references, each
with its source, chunk, character span and the quoted passage; the engine and the verification line."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from sleuth.reports.render import claim_text, cost_line, verification_line


def _cites(numbers: list[int]) -> str:
    return "".join(f"[{n}]" for n in numbers)


def _claims(doc: Any, claims: list[Mapping[str, Any]]) -> None:
    for claim in claims:
        item = doc.add_paragraph(style="List Bullet")
        item.add_run(f"{claim_text(claim)} ")
        item.add_run(_cites(claim["citations"])).bold = True
        verdict = claim.get("verdict") or "not verified"
        reason = f": {claim['reason']}" if claim.get("reason") else ""
        item.add_run(f" ({verdict}{reason})").italic = True
        if claim.get("conflicts"):
            item.add_run(f" conflicting: {_cites(claim['conflicts'])}")


def render_docx(report: Mapping[str, Any]) -> bytes:
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    doc.core_properties.title = report["question"][:250]
    doc.add_heading(report["question"], level=0)
    doc.add_paragraph(f"{report['engine_label']}.").runs[0].italic = True
    if report.get("assumption"):
        doc.add_paragraph(f"Assumed: {report['assumption']}")
    if not report["complete"]:
        doc.add_paragraph(f"Partial report: the run stopped early because {report['stop_reason']}.")
    for section in report["sections"]:
        doc.add_heading(section["question"], level=1)
        _claims(doc, section["claims"])
        if not section["claims"]:
            doc.add_paragraph(
                "No claim: " + ("not written." if not section["written"] else "nothing matched.")
            )
    for title, key in (("Conflicting evidence", "conflicts"), ("Claims dropped", "dropped_claims")):
        if report.get(key):
            doc.add_heading(title, level=1)
            _claims(doc, report[key])
    doc.add_heading("References", level=1)
    for source in report["sources"]:
        entry = doc.add_paragraph()
        entry.add_run(f"[{source['n']}] ").bold = True
        entry.add_run(f"{source['title'] or source['doc_id']} — {source['source']} ")
        fetched = f"web page fetched {source.get('fetched_at')}; " if source.get("origin") == "web" else ""
        entry.add_run(
            f"({fetched}chunk {source['chunk_id']}, chars {source['start']}-{source['end']})"
        ).italic = True
        if source.get("text"):
            quote = doc.add_paragraph(f"“{source['text']}”")
            quote.paragraph_format.left_indent = Pt(18)
    doc.add_paragraph().add_run(f"Verification: {verification_line(report)}").bold = True
    cost = cost_line(report.get("usage", {})).replace("**", "")
    if cost:
        doc.add_paragraph(cost)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
