"""What changed since the last run of a scheduled job: pure functions over two report snapshots.

A snapshot (stored in each archived JSON report under ``schedule.snapshot``) lists the cited passages
(source path/URL, title, hash of the chunk text) and the claims shown in the report (normalised text).
Sources are compared by path/URL, passages by text hash, claims by normalised text:

- new sources: cited now, not last time;
- sources that disappeared: cited last time, not now (gone from the corpus, or just no longer cited);
- sources whose passage changed: cited last time, still in the corpus, but the cited passage's text is
  no longer in it (the document was edited);
- new claims, and claims no longer supported (absent now, or now judged unsupported/contradicted).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

_CITES = re.compile(r"\s*\[\d+\]")
_PUNCT = re.compile(r"[^\w\s]")


def text_hash(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()[:16]


def normalise_claim(text: str) -> str:
    """Lower case, no citation markers or punctuation, single spaces: wording noise does not count."""
    return " ".join(_PUNCT.sub(" ", _CITES.sub("", text)).lower().split())


def _shown_claims(report: Mapping[str, Any]) -> list[str]:
    return [c["text"] for s in report.get("sections", []) for c in s.get("claims", [])]


def _rejected_claims(report: Mapping[str, Any]) -> set[str]:
    rejected = [*report.get("dropped_claims", []), *report.get("conflicts", [])]
    return {normalise_claim(c["text"]) for c in rejected}


def snapshot(report: Mapping[str, Any], chunk_texts: Mapping[str, str]) -> dict[str, Any]:
    """What the next run compares against: cited passages (with text hashes) and claims."""
    passages = [
        {
            "source": s["source"],
            "title": s.get("title") or s.get("doc_id") or s["source"],
            "chunk_id": s["chunk_id"],
            "hash": text_hash(chunk_texts.get(s["chunk_id"], "")),
        }
        for s in report.get("sources", [])
    ]
    claims = {normalise_claim(t): t for t in _shown_claims(report)}
    return {
        "passages": passages,
        "claims": [{"key": k, "text": t} for k, t in claims.items()],
        "rejected": sorted(_rejected_claims(report)),
    }


def _titles(snap: Mapping[str, Any]) -> dict[str, str]:
    return {p["source"]: p["title"] for p in snap["passages"]}


def diff_snapshots(
    previous: Mapping[str, Any], current: Mapping[str, Any], corpus_now: Mapping[str, set[str]]
) -> dict[str, list[dict[str, str]]]:
    """Changes from ``previous`` to ``current``; ``corpus_now`` maps each source path/URL cited last
    time that is still in the corpus to the text hashes of all its chunks now."""
    before, now = _titles(previous), _titles(current)
    changed = []
    for source, title in before.items():
        cited = {p["hash"] for p in previous["passages"] if p["source"] == source}
        if source in corpus_now and not cited <= corpus_now[source]:
            changed.append({"source": source, "title": now.get(source, title)})
    changed_sources = {c["source"] for c in changed}
    disappeared = [
        {
            "source": s,
            "title": t,
            "why": "removed from the corpus" if s not in corpus_now else "no longer cited",
        }
        for s, t in before.items()
        if s not in now and s not in changed_sources
    ]
    old_claims = {c["key"]: c["text"] for c in previous["claims"]}
    new_claims = {c["key"]: c["text"] for c in current["claims"]}
    rejected = set(current.get("rejected", []))
    return {
        "new_sources": [{"source": s, "title": t} for s, t in now.items() if s not in before],
        "disappeared_sources": disappeared,
        "changed_sources": changed,
        "new_claims": [{"text": t} for k, t in new_claims.items() if k not in old_claims],
        "unsupported_claims": [
            {"text": t, "why": "now judged unsupported" if k in rejected else "no longer in the report"}
            for k, t in old_claims.items()
            if k not in new_claims
        ],
    }


CHANGE_HEADINGS = (
    ("new_sources", "New sources"),
    ("disappeared_sources", "Sources that disappeared"),
    ("changed_sources", "Sources whose cited passage changed"),
    ("new_claims", "New claims"),
    ("unsupported_claims", "Claims no longer supported"),
)


def change_item_text(item: Mapping[str, str]) -> str:
    head = f"{item['title']} — {item['source']}" if "source" in item else item["text"]
    return head + (f" ({item['why']})" if item.get("why") else "")


def render_changes_markdown(changes: Mapping[str, Any] | None, since: str | None) -> str:
    """The report's closing section; ``changes`` None means there is no earlier run to compare with."""
    lines = ["## What changed since the last run", ""]
    if changes is None:
        return "\n".join([*lines, "_First run of this job: nothing to compare with yet._", ""])
    lines += [f"Compared with the run of {since}.", ""]
    if not any(changes[key] for key, _ in CHANGE_HEADINGS):
        return "\n".join([*lines, "_Nothing changed: same sources, passages and claims._", ""])
    for key, heading in CHANGE_HEADINGS:
        if changes[key]:
            lines += [f"### {heading}", "", *(f"- {change_item_text(item)}" for item in changes[key]), ""]
    return "\n".join(lines)
