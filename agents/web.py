"""The web as a retrieval source: where to retrieve from (local first) and the web step itself.

``choose_source`` runs after the decision to retrieve: with the web available in "auto" mode it probes
the local corpus with the sub-question (a search, not a model call) and goes to the web only when the
local evidence is insufficient: fewer than ``sufficient_passages`` relevant passages that each mention
at least half of the sub-question's terms, or together less than ``sufficient_coverage`` of them, or a
missing fact (from verification) they do not cover. A passage that mentions a topic in passing (one
line on rank fusion in a note about BM25) does not count as local evidence for it.

``web_node`` searches the web for the sub-question's queries, then gathers (fetch, extract, cache,
index) the top result URLs; the retriever then ranks local and web passages together. The fetch list
is built from the search backend's results only: page text, links and refresh tags are never read for
URLs, and web passages never feed query writing (see rewriter.feedback_passages).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sleuth.agents.budget import ResearchLimits
from sleuth.agents.common import event
from sleuth.agents.deps import ResearchDeps, WebAccess
from sleuth.agents.relevance import relevant_hits
from sleuth.agents.textmatch import coverage
from sleuth.tools.errors import SearchError, SearchUnavailable
from sleuth.tools.web import FetchedPage, FetchResult, GatherReport, WebResult

ON_TOPIC_COVERAGE = 0.5  # share of the sub-question's terms one passage must mention to count


def local_sufficiency(
    question: str, missing: Sequence[str], passages: Iterable[Mapping[str, Any]], limits: ResearchLimits
) -> tuple[bool, str]:
    """Whether local passages answer ``question`` (and every missing fact), and a short why."""
    on_topic = [
        p for p in passages if coverage(question, f"{p.get('title', '')}\n{p['text']}") >= ON_TOPIC_COVERAGE
    ]
    joined = "\n".join(f"{p.get('title', '')}\n{p['text']}" for p in on_topic)
    covered = coverage(question, joined) if on_topic else 0.0
    uncovered = [m for m in missing if coverage(m, joined) < 0.8]
    noun = "passage" if len(on_topic) == 1 else "passages"
    facts = [f"{len(on_topic)} on-topic {noun} covering {covered:.0%} of its terms"]
    shortfalls = []
    if len(on_topic) < limits.sufficient_passages:
        shortfalls.append(f"{limits.sufficient_passages} passages needed")
    if covered < limits.sufficient_coverage:
        shortfalls.append(f"{limits.sufficient_coverage:.0%} coverage needed")
    if uncovered:
        shortfalls.append(f"{len(uncovered)} missing fact(s) not covered")
    return not shortfalls, "; ".join(facts + shortfalls)


def choose_source(state: Mapping[str, Any], deps: ResearchDeps, why_retrieve: str) -> tuple[str, str]:
    """("local" | "web", reason) for a sub-question that needs more evidence."""
    web = deps.web
    if web is None:
        return "local", why_retrieve
    if web.mode == "always":
        return "web", f"{why_retrieve}; web search requested"
    sq = state["sub_question"]
    probe = deps.search.search(sq["question"], k=deps.limits.passages_per_query)
    kept = relevant_hits([(sq["question"], probe)], sq["question"], deps.limits)
    local = {p["chunk_id"]: p for p in state.get("known_evidence", []) if p.get("origin", "local") == "local"}
    local.update({chunk_id: passage.to_dict() for chunk_id, (passage, _) in kept.items()})
    enough, summary = local_sufficiency(sq["question"], state.get("missing", []), local.values(), deps.limits)
    if enough:
        return "local", f"local evidence suffices: {summary}"
    return "web", f"local evidence insufficient: {summary}"


def interleave_urls(rankings: Sequence[Sequence[WebResult]], limit: int) -> list[str]:
    """Distinct result URLs, best ranks of every query first, at most ``limit``."""
    urls: list[str] = []
    depth = max((len(r) for r in rankings), default=0)
    for rank in range(depth):
        for ranking in rankings:
            if rank < len(ranking) and ranking[rank].url not in urls:
                urls.append(ranking[rank].url)
    return urls[:limit]


def search_web(
    web: WebAccess, queries: Sequence[str], run_key: str = ""
) -> tuple[list[str], list[dict[str, str]]]:
    """URLs to fetch for ``queries`` and the searches that failed (query, reason). A backend that could
    not be reached is down for the rest of the run ``run_key``: said once, not asked again."""
    rankings: list[list[WebResult]] = []
    errors: list[dict[str, str]] = []
    for query in queries:
        if run_key in web.down:
            break
        try:
            rankings.append(web.search.search(query, k=web.results_per_query))
        except SearchUnavailable as e:  # retried already: every later query would wait and fail the same
            web.down[run_key] = str(e)
            errors.append({"query": query, "reason": f"{e}; web search is off for the rest of this run"})
        except SearchError as e:  # one failed query must not cost the others; the report lists it
            errors.append({"query": query, "reason": str(e)})
    return interleave_urls(rankings, web.max_pages), errors


def source_record(result: FetchResult, sq_id: str) -> dict[str, Any]:
    """What the state keeps about one URL of a gather: a page (fetched or from the cache) or a skip."""
    record: dict[str, Any] = {"url": result.url, "sub_questions": [sq_id], "fetched_at": result.fetched_at}
    if isinstance(result, FetchedPage):
        status = "cached" if result.from_cache else "fetched"
        return {**record, "status": status, "final_url": result.final_url, "title": result.title}
    return {**record, "status": "skipped", "reason": result.reason, "kind": result.kind}


def web_event(sq_id: str, queries: Sequence[str], report: GatherReport, errors: list[dict[str, str]]) -> dict:
    skipped = [{"url": f.url, "reason": f.reason, "kind": f.kind} for f in report.failures]
    return event(
        "web",
        sub_question=sq_id,
        queries=len(queries),
        urls=len(report.results),
        pages=len(report.pages),
        from_cache=sum(1 for p in report.pages if p.from_cache),
        fetched=report.fetched,
        indexed=len(report.indexed_doc_ids),
        skipped=skipped,
        search_errors=errors,
    )


def web_node(state: Mapping[str, Any], deps: ResearchDeps) -> dict[str, Any]:
    sq_id = state["sub_question"]["id"]
    web = deps.web
    assert web is not None  # the graph routes here only when the web is available
    queries = state["queries"][sq_id]
    with web.search_lock:
        urls, errors = search_web(web, queries, f"{state['run_id']}#{state.get('turn', 1)}")
    with web.lock:
        report = web.gatherer.gather(urls)
    return {
        "web_sources": {r.url: source_record(r, sq_id) for r in report.results},
        "trace": [web_event(sq_id, queries, report, errors)],
    }
