"""HotpotQA-500 as one pooled multi-hop corpus (every question's paragraphs, ~4,900 unique).

For each question: are its 2 gold supporting paragraphs in the top 10 (both / at least one)? Measured
for single-shot BM25 and hybrid search, and optionally for the evidence set the research graph gathers
with the offline engine (iterative retrieval with query rewriting).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path

import structlog

from evals.corpus_build import CACHE_ROOT, IndexSettings, build_corpus
from evals.datasets import HotpotQuestion, load_hotpotqa
from evals.rankers import CandidateRanker, rrf_docs
from evals.record import RESULTS_DIR, EvalRun
from sleuth.agents.budget import ResearchLimits
from sleuth.agents.deps import ResearchDeps
from sleuth.graphs.research import build_graph
from sleuth.tools.corpus.local_corpus import LocalCorpus
from sleuth.wiring import limits_from_settings, offline_engine

log = structlog.get_logger(__name__)

SAMPLE_SEED = 7


def sample_questions(
    questions: list[HotpotQuestion], n: int | None, seed: int = SAMPLE_SEED
) -> list[HotpotQuestion]:
    if n is None or n >= len(questions):
        return list(questions)
    return sorted(random.Random(seed).sample(questions, n), key=lambda q: q.question_id)


def gold_recall(found: Iterable[set[str]], questions: list[HotpotQuestion]) -> dict[str, float]:
    both = one = 0
    for docs, q in zip(found, questions, strict=True):
        hits = len(set(q.gold_doc_ids) & docs)
        both += hits >= len(q.gold_doc_ids)
        one += hits >= 1
    n = max(len(questions), 1)
    return {"both_gold": round(both / n, 4), "at_least_one_gold": round(one / n, 4)}


def split_recall(
    found: list[set[str]], questions: list[HotpotQuestion], everything: list[HotpotQuestion]
) -> dict[str, float]:
    """Both-gold recall on the seeded 100-question sample (held out: never used while designing the
    graph's second hop) and on the other 400 (the tuning questions), where the run covers them."""
    held_out = {q.question_id for q in sample_questions(everything, 100)}
    out: dict[str, float] = {}
    for name, keep in (("held_out_100", True), ("tuning_400", False)):
        pairs = [(f, q) for f, q in zip(found, questions, strict=True) if (q.question_id in held_out) == keep]
        if pairs:
            out[f"both_gold_{name}"] = gold_recall([f for f, _ in pairs], [q for _, q in pairs])["both_gold"]
    return out


def two_hop(ranker: CandidateRanker, titles: dict[str, str], question: str, k: int = 10) -> set[str]:
    """Single-shot hybrid, then one bridging hop: the question plus each top document's title as a new
    query (the bridge entity of a multi-hop question is often the title of the first-hop paragraph).
    Untuned: 4 first-hop documents, then the best 2 new ones from each of the top 3 bridges."""
    first = rrf_docs(ranker.lexical(question), ranker.dense_many([question])[0])
    chosen = first[:4]
    for doc_id in first[:3]:
        bridged = f"{question} {titles[doc_id]}"
        second = rrf_docs(ranker.lexical(bridged), ranker.dense_many([bridged])[0])
        chosen += [d for d in second if d not in chosen][:2]
    return set(chosen[:k])


def graph_evidence(corpus: LocalCorpus, limits: ResearchLimits) -> Callable[[HotpotQuestion], set[str]]:
    graph = build_graph(ResearchDeps(model=offline_engine(), search=corpus, limits=limits))

    def gather(q: HotpotQuestion) -> set[str]:
        state = graph.invoke({"question": q.question, "run_id": f"eval-{q.question_id}"})
        return {p["doc_id"] for p in state.get("evidence", {}).values()}

    return gather


def run_hotpotqa(
    data_dir: Path | None,
    n_questions: int | None = 100,
    *,
    graph: bool = False,
    cache_root: Path = CACHE_ROOT,
    results_dir: Path = RESULTS_DIR,
) -> Path:
    data = load_hotpotqa(data_dir)
    questions = sample_questions(data.questions, n_questions)
    name = "hotpotqa-pooled" + ("-all" if n_questions is None else f"-{len(questions)}")
    run = EvalRun(
        name, {"questions": len(questions), "seed": SAMPLE_SEED, "k": 10, "graph": graph}, data.sha256
    )
    corpus, build = build_corpus("hotpotqa", data.docs, settings=IndexSettings(), root=cache_root)
    ranker = CandidateRanker(corpus, depth=100)
    texts = [q.question for q in questions]
    lexical = [ranker.lexical(t) for t in texts]
    dense = ranker.dense_many(texts)
    production = [ranker.production_hybrid(t, k=30) for t in texts]
    runs = {
        "bm25 top-10": [{d for d, _ in r[:10]} for r in lexical],
        "dense top-10": [{d for d, _ in r[:10]} for r in dense],
        "hybrid production (min-max fusion) top-10": [{d for d, _ in r[:10]} for r in production],
        "hybrid doc RRF k=60 top-10": [
            set(rrf_docs(lx, dn)[:10]) for lx, dn in zip(lexical, dense, strict=True)
        ],
        "bm25 top-20": [{d for d, _ in r[:20]} for r in lexical],
    }
    titles = {d.doc_id: d.title for d in data.docs}
    runs["hybrid two-hop, title bridging (10 docs)"] = [two_hop(ranker, titles, t) for t in texts]
    run.results = {name: gold_recall(found, questions) for name, found in runs.items()}
    if graph:
        limits = limits_from_settings()
        gather = graph_evidence(corpus, limits)
        started = time.perf_counter()
        evidence = [gather(q) for q in questions]
        run.results["research graph evidence (offline engine)"] = {
            **gold_recall(evidence, questions),
            "mean_evidence_docs": round(sum(map(len, evidence)) / max(len(evidence), 1), 1),
            "seconds_per_question": round((time.perf_counter() - started) / max(len(questions), 1), 2),
            **split_recall(evidence, questions, data.questions),
        }
        run.config["limits"] = asdict(limits)
    return run.finish(results_dir, index=build)
