"""Retrieval evals on fixed public corpora.

    python -m evals.retrieval_eval scifact [--data-dir ../shared/data] [--split test]
    python -m evals.retrieval_eval hotpotqa [--questions 100 | --all] [--graph]

SciFact: every variant's free parameters are tuned on the *train* split (809 queries) and the chosen
values are then scored once on the requested split; the result JSON records both.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import structlog

from evals.corpus_build import CACHE_ROOT, MODEL_CACHE, IndexSettings, build_corpus
from evals.datasets import DatasetNotFound, RetrievalSet, load_scifact, subset_retrieval
from evals.metrics import evaluate
from evals.rankers import (
    PRF,
    CandidateRanker,
    DocRanking,
    convex_docs,
    docs_from_rows,
    rrf_docs,
    title_boosted_bm25,
)
from evals.record import RESULTS_DIR, EvalRun
from sleuth.tools.corpus.hybrid import RRF_K
from sleuth.tools.corpus.local_corpus import LocalCorpus
from sleuth.tools.embeddings import MiniLMEmbedder

log = structlog.get_logger(__name__)

RRF_KS = (1, 2, 5, 10, 20, 40, 60, 100)
LEXICAL_WEIGHTS = (0.6, 0.8, 1.0, 1.2, 1.4)
ALPHAS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
PRF_GRID = tuple(PRF(d, t, w) for d, t, w in itertools.product((3, 10), (10, 30), (0.6, 0.8)))


TITLE_REPEATS = (1, 2, 3)


@dataclass
class SplitRankings:
    """Doc rankings per query id for one split: BM25 (baseline and title-weighted), BM25+PRF (per PRF
    setting, over the title-weighted BM25), dense, and the production hybrid search."""

    lexical: dict[str, DocRanking]
    titled: dict[str, DocRanking]
    prf: dict[PRF, dict[str, DocRanking]]
    dense: dict[str, DocRanking]
    production: dict[str, DocRanking]
    chunk_rows: dict[str, list[tuple[int, float]]]  # dense chunk rows, for the chunk-level fusion variants


def _by_query(data: RetrievalSet, fn: Callable[[str], DocRanking]) -> dict[str, DocRanking]:
    return {q: fn(data.queries[q]) for q in sorted(data.queries)}


def rank_split(
    base: CandidateRanker, titled: CandidateRanker, data: RetrievalSet, prfs: tuple[PRF, ...]
) -> SplitRankings:
    qids = sorted(data.queries)
    chunk_rows = dict(zip(qids, base.dense_rows_many([data.queries[q] for q in qids]), strict=True))
    return SplitRankings(
        lexical=_by_query(data, base.lexical),
        titled=_by_query(data, titled.lexical),
        prf={p: _by_query(data, lambda t, p=p: titled.lexical(t, p)) for p in prfs},
        dense={q: docs_from_rows(base.index, rows) for q, rows in chunk_rows.items()},
        production=_by_query(data, base.production_hybrid),
        chunk_rows=chunk_rows,
    )


def ids(ranking: DocRanking) -> list[str]:
    return [d for d, _ in ranking]


def score(runs: dict[str, list[str]], data: RetrievalSet) -> dict[str, float]:
    return evaluate(runs, data.qrels)


def fuse(
    lexical: dict[str, DocRanking], dense: dict[str, DocRanking], fn: Callable[..., list[str]], **kw: Any
) -> dict[str, list[str]]:
    return {q: fn(lexical[q], dense[q], **kw) for q in lexical}


def best_of(candidates: dict[Any, dict[str, list[str]]], data: RetrievalSet) -> tuple[Any, float]:
    """The candidate with the best nDCG@10 on ``data`` (ties: first listed)."""
    scored = {key: evaluate(runs, data.qrels)["ndcg@10"] for key, runs in candidates.items()}
    best = max(scored, key=lambda k: scored[k])
    log.info("eval.tuning", best=str(best), ndcg=scored[best], tried={str(k): v for k, v in scored.items()})
    return best, scored[best]


def tune_title_repeats(corpus: LocalCorpus, data: RetrievalSet) -> tuple[int, CandidateRanker]:
    rankers = {
        n: CandidateRanker(corpus, bm25=title_boosted_bm25(corpus.lexical(), n) if n > 1 else None)
        for n in TITLE_REPEATS
    }
    runs = {n: {q: ids(r) for q, r in _by_query(data, rk.lexical).items()} for n, rk in rankers.items()}
    best, _ = best_of(runs, data)
    return best, rankers[best]


@dataclass
class Tuned:
    title_repeats: int
    prf: PRF
    rrf_k: int
    w_lexical: float
    alpha: float
    prf_rrf_k: int
    prf_w_lexical: float
    prf_alpha: float
    title_alpha: float


def tune_on_train(train: SplitRankings, data: RetrievalSet, title_repeats: int) -> Tuned:
    prf, _ = best_of({p: {q: ids(r) for q, r in runs.items()} for p, runs in train.prf.items()}, data)
    grid = list(itertools.product(RRF_KS, LEXICAL_WEIGHTS))
    (rrf_k, w), _ = best_of(
        {(k, w): fuse(train.lexical, train.dense, rrf_docs, rrf_k=k, w_lexical=w) for k, w in grid}, data
    )
    alpha, _ = best_of({a: fuse(train.lexical, train.dense, convex_docs, alpha=a) for a in ALPHAS}, data)
    (pk, pw), _ = best_of(
        {(k, w): fuse(train.prf[prf], train.dense, rrf_docs, rrf_k=k, w_lexical=w) for k, w in grid}, data
    )
    prf_alpha, _ = best_of({a: fuse(train.prf[prf], train.dense, convex_docs, alpha=a) for a in ALPHAS}, data)
    title_alpha, _ = best_of({a: fuse(train.titled, train.dense, convex_docs, alpha=a) for a in ALPHAS}, data)
    return Tuned(title_repeats, prf, rrf_k, w, alpha, pk, pw, prf_alpha, title_alpha)


def configurations(r: SplitRankings, t: Tuned) -> dict[str, dict[str, list[str]]]:
    p = t.prf
    titled = f"bm25 title x{t.title_repeats}"
    return {
        "bm25": {q: ids(x) for q, x in r.lexical.items()},
        "dense (MiniLM)": {q: ids(x) for q, x in r.dense.items()},
        "hybrid: production (chunk min-max fusion, 0.5/0.5)": {q: ids(x) for q, x in r.production.items()},
        "hybrid: doc-level RRF k=60": fuse(r.lexical, r.dense, rrf_docs, rrf_k=60),
        f"hybrid: doc RRF tuned (k={t.rrf_k}, w_lex={t.w_lexical})": fuse(
            r.lexical, r.dense, rrf_docs, rrf_k=t.rrf_k, w_lexical=t.w_lexical
        ),
        f"hybrid: convex min-max (alpha={t.alpha})": fuse(r.lexical, r.dense, convex_docs, alpha=t.alpha),
        f"{titled} (tuned)": {q: ids(x) for q, x in r.titled.items()},
        f"{titled} + PRF ({p.fb_docs} docs, {p.fb_terms} terms, w={p.original_weight})": {
            q: ids(x) for q, x in r.prf[p].items()
        },
        f"hybrid: {titled} + PRF, doc RRF tuned (k={t.prf_rrf_k}, w_lex={t.prf_w_lexical})": fuse(
            r.prf[p], r.dense, rrf_docs, rrf_k=t.prf_rrf_k, w_lexical=t.prf_w_lexical
        ),
        f"hybrid: {titled}, convex min-max (alpha={t.title_alpha})": fuse(
            r.titled, r.dense, convex_docs, alpha=t.title_alpha
        ),
        f"hybrid: {titled} + PRF, convex min-max (alpha={t.prf_alpha})": fuse(
            r.prf[p], r.dense, convex_docs, alpha=t.prf_alpha
        ),
    }


def chunk_level_configurations(base: CandidateRanker, r: SplitRankings, data: RetrievalSet, t: Tuned) -> dict:
    """Rank fusion at chunk level as tools/corpus/hybrid.py would run it (depth 100): the fusion shipped before
    min-max score fusion (RRF k=60) and RRF with the k tuned on train."""
    q = sorted(data.queries)
    return {
        f"hybrid: chunk RRF k={k}" + (" (shipped before)" if k == RRF_K else ""): {
            i: ids(base.chunk_rrf(data.queries[i], r.chunk_rows[i], k)) for i in q
        }
        for k in dict.fromkeys((RRF_K, t.rrf_k))
    }


def run_scifact(
    data_dir: Path | None,
    split: str = "test",
    settings: IndexSettings = IndexSettings(),
    *,
    subset_docs: int | None = None,
    cache_root: Path = CACHE_ROOT,
    results_dir: Path = RESULTS_DIR,
    precision: str = "fp32",
) -> Path:
    """Index (or reuse) the corpus, tune on train, score ``split``; ``subset_docs`` makes a smoke run;
    ``precision`` picks the bundled embedding model's weights (fp32 or int8)."""
    evaluated = load_scifact(data_dir, split)
    train = load_scifact(data_dir, "train")
    if subset_docs is not None:
        evaluated, train = subset_retrieval(evaluated, subset_docs), subset_retrieval(train, subset_docs)
        shared = {d.doc_id: d for d in evaluated.docs + train.docs}  # one corpus for both splits
        evaluated.docs = train.docs = list(shared.values())
    embedder = MiniLMEmbedder(MODEL_CACHE, precision=precision)
    name = (
        f"scifact-{split}"
        + (f"-subset{subset_docs}" if subset_docs else "")
        + ("" if precision == "fp32" else f"-{precision}")
    )
    run = EvalRun(
        name,
        {"split": split, "tuned_on": "train", "index": asdict(settings), "embedding": embedder.name},
        {**evaluated.sha256, "qrels/train.tsv": train.sha256["qrels/train.tsv"]},
    )
    corpus, build = build_corpus(
        "scifact", evaluated.docs, settings=settings, embedder=embedder, root=cache_root
    )
    started = time.perf_counter()
    base = CandidateRanker(corpus)
    repeats, titled = tune_title_repeats(corpus, train)
    train_rankings = rank_split(base, titled, train, PRF_GRID)
    tuned = tune_on_train(train_rankings, train, repeats)
    log.info("eval.tuned", **{k: str(v) for k, v in asdict(tuned).items()})
    test_rankings = train_rankings if split == "train" else rank_split(base, titled, evaluated, (tuned.prf,))
    train_configs = configurations(train_rankings, tuned) | chunk_level_configurations(
        base, train_rankings, train, tuned
    )
    test_configs = configurations(test_rankings, tuned) | chunk_level_configurations(
        base, test_rankings, evaluated, tuned
    )
    run.results = {
        name: {split: score(test_configs[name], evaluated), "train": score(train_configs[name], train)}
        for name in test_configs
    }
    run.config["selected_on_train"] = max(run.results, key=lambda n: run.results[n]["train"]["ndcg@10"])
    run.config["tuned"] = {k: (asdict(v) if isinstance(v, PRF) else v) for k, v in asdict(tuned).items()}
    return run.finish(
        results_dir,
        index=build,
        ranking_seconds=round(time.perf_counter() - started, 1),
        queries=len(evaluated.queries),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evals.retrieval_eval", description=__doc__.split("\n")[0]
    )
    parser.add_argument("dataset", choices=["scifact", "hotpotqa"])
    parser.add_argument("--data-dir", type=Path, default=None, help="default: ../shared/data beside the repo")
    parser.add_argument("--split", default="test", choices=["test", "train"])
    parser.add_argument("--questions", type=int, default=100, help="HotpotQA: seeded sample size")
    parser.add_argument("--all", action="store_true", help="HotpotQA: all 500 questions")
    parser.add_argument(
        "--graph", action="store_true", help="HotpotQA: also run the research graph (offline engine)"
    )
    parser.add_argument(
        "--precision", default="fp32", choices=["fp32", "int8"], help="SciFact: embedding weights"
    )
    args = parser.parse_args(argv)
    try:
        if args.dataset == "scifact":
            path = run_scifact(args.data_dir, args.split, precision=args.precision)
        else:
            from evals.hotpot_eval import run_hotpotqa

            path = run_hotpotqa(args.data_dir, None if args.all else args.questions, graph=args.graph)
    except DatasetNotFound as e:
        print(str(e), file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
