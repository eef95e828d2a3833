"""One human line per trace event of the research graph: the progress that `sleuth research`, `sleuth
chat` and the web app show while a run works."""

from __future__ import annotations

from collections import Counter
from typing import Any


def progress_line(event: dict[str, Any]) -> str | None:
    """One human line for a node's trace event (None for events not worth a line)."""
    node, sq = event.get("node"), event.get("sub_question", "")
    if node == "planner":
        subs = event.get("sub_questions", [])
        return f"planner: {len(subs)} sub-question(s): " + "; ".join(
            f"[{i}] {q}" for i, q in enumerate(subs, 1)
        )
    if node == "decide":
        retrieval = event.get("retrieval") or ("local" if event.get("retrieve") else "none")
        action = "none, enough evidence" if retrieval == "none" else retrieval
        return f"{sq} decide: {action} ({event.get('reason', '')})"
    if node == "rewriter":
        return f"{sq} query-rewriter: {len(event.get('queries', []))} queries"
    if node == "web":
        return web_progress(event)
    if node == "retriever":
        counts = f"{event.get('new', 0)} new, {event.get('hits', 0)} hits"
        web = f", {event['web']} from the web" if event.get("web") else ""
        return f"{sq} retriever: {event.get('kept', 0)} relevant passages ({counts}{web})"
    if node == "writer":
        claims = event.get("claims")
        return (
            f"writer: {sum(claims.values())} claims drafted"
            if claims
            else f"writer: not written ({event.get('reason', '')})"
        )
    if node == "verifier":
        gaps = event.get("gaps") or []
        more = f"; another round for {', '.join(gaps)}" if gaps else ""
        return f"verifier: {event.get('checked', 0)} claims checked {event.get('verdicts', {})}{more}"
    if node == "stop":
        return f"stopping early: {event.get('reason', '')}"
    return None


def _count(n: int, noun: str) -> str:
    plural = f"{noun}es" if noun.endswith(("s", "sh", "ch", "x")) else f"{noun}s"
    return f"{n} {noun}" if n == 1 else f"{n} {plural}"


def web_progress(event: dict[str, Any]) -> str:
    """E.g. "sq2 web: 6 URLs from 3 searches; 2 pages (1 from cache); 4 skipped (http 3, refused 1)"."""
    skipped, errors = event.get("skipped", []), event.get("search_errors", [])
    line = (
        f"{event.get('sub_question', '')} web: {_count(event.get('urls', 0), 'URL')} from "
        f"{_count(event.get('queries', 0), 'search')}; {_count(event.get('pages', 0), 'page')} "
        f"({event.get('from_cache', 0)} from cache)"
    )
    if skipped:
        kinds = Counter(item["kind"] for item in skipped)
        line += f"; {len(skipped)} skipped ({', '.join(f'{k} {n}' for k, n in kinds.items())})"
    if errors:
        line += f"; {_count(len(errors), 'search')} failed: {errors[0]['reason']}"
    return line
