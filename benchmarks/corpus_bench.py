"""Corpus figures: ingest throughput vs. the embedding model alone, hybrid query latency at scale,
peak memory of each. Every phase runs in its own process so peak RSS belongs to that phase.

    python benchmarks/corpus_bench.py                      # all phases, default sizes
    python benchmarks/corpus_bench.py --sizes 10000 100000 --queries 300
    python benchmarks/corpus_bench.py --embed-all          # embed every synthetic chunk for real (slow)
    python benchmarks/corpus_bench.py --scale 300000       # at 300k chunks: add one 10-page PDF, cold search

Synthetic text: sentences drawn (seeded) from the bundled sample corpus, so the vocabulary and
sentence lengths are realistic. At 100k chunks, embedding every chunk with MiniLM on 2 cores would take
~20 minutes; by default the query phase embeds the first ``--embed-limit`` chunks for real and gives
the rest noisy copies of those vectors (same dimension, norm and rough distribution). Query latency
includes embedding the query with the real model.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sleuth.settings import default_settings  # noqa: E402
from sleuth.tools.corpus.chunking import chunk_text  # noqa: E402
from sleuth.tools.corpus.ingest import ingest_paths  # noqa: E402
from sleuth.tools.corpus.lexical import index_text  # noqa: E402
from sleuth.tools.corpus.local_corpus import LocalCorpus  # noqa: E402
from sleuth.tools.corpus.store import NewDocument  # noqa: E402
from sleuth.tools.embeddings import MiniLMEmbedder  # noqa: E402
from sleuth.tools.records import content_hash  # noqa: E402
from sleuth.wiring import chunk_size, ingest_options  # noqa: E402

SAMPLE = ROOT / "sleuth" / "sample_corpus"


def sentences() -> list[str]:
    text = " ".join(p.read_text() for p in sorted(SAMPLE.glob("*.md")))
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", re.sub(r"#+ ", "", text)) if len(s.split()) > 5]


def synthetic_docs(n_docs: int, chars: int, seed: int = 7) -> list[tuple[str, str]]:
    rng, pool = random.Random(seed), sentences()
    docs = []
    for i in range(n_docs):
        body, size = [], 0
        while size < chars:
            s = rng.choice(pool)
            body.append(s)
            size += len(s) + 1
        docs.append((f"Synthetic note {i}", " ".join(body)))
    return docs


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_ingest(args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="sleuth-bench-"))
    folder = work / "docs"
    folder.mkdir()
    for i, (title, body) in enumerate(synthetic_docs(args.docs, args.doc_chars)):
        (folder / f"doc{i:05}.md").write_text(f"# {title}\n\n{body}\n")
    embedder = MiniLMEmbedder(Path(args.cache_dir), batch_size=32, precision=args.precision)
    embedder.embed(["warm up"])  # model load / one-time ONNX build excluded from both timings
    options = ingest_options(default_settings())
    texts = []
    for i, p in enumerate(sorted(folder.glob("*.md"))):
        text = p.read_text()
        texts += [index_text(f"Synthetic note {i}", c.text) for c in chunk_text(str(i), text, **chunk_size())]
    t0 = time.perf_counter()
    embedder.embed(texts)
    embed_s = time.perf_counter() - t0
    tokens = embedder.count_tokens(texts)
    corpus = LocalCorpus(work / "data", embedder)
    t0 = time.perf_counter()
    report = ingest_paths(corpus, [folder], options)
    ingest_s = time.perf_counter() - t0
    return {
        "documents": args.docs,
        "chunks": report.chunks,
        "tokens": tokens,
        "embed_only_s": round(embed_s, 2),
        "ingest_s": round(ingest_s, 2),
        "ingest_over_embed": round(ingest_s / embed_s, 3),
        "ingest_chunks_per_s": round(report.chunks / ingest_s, 1),
        "ingest_tokens_per_s": round(tokens / ingest_s, 1),
        "embed_chunks_per_s": round(len(texts) / embed_s, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def phase_build(args: argparse.Namespace) -> dict:
    """Build a corpus of ``--size`` chunks directly through the store/index APIs."""
    data = Path(args.data_dir)
    embedder = MiniLMEmbedder(Path(args.cache_dir), batch_size=32, precision=args.precision)
    corpus = LocalCorpus(data, embedder)
    docs_raw = synthetic_docs(args.size // 4 + 1, 3600, seed=args.size)
    docs, n = [], 0
    for i, (title, body) in enumerate(docs_raw):
        doc_id = f"d{i:07}"
        chunks = chunk_text(doc_id, body, **chunk_size())[: max(0, args.size - n)]
        if not chunks:
            break
        n += len(chunks)
        docs.append(
            NewDocument(
                doc_id, f"/synthetic/{doc_id}.md", title, "markdown", "r", content_hash(body), body, chunks
            )
        )
    t0 = time.perf_counter()
    rows = [(c.chunk_id, d.doc_id, index_text(d.title, c.text)) for d in docs for c in d.chunks]
    limit = len(rows) if args.embed_all else min(args.embed_limit, len(rows))
    real = embedder.embed([r[2] for r in rows[:limit]])
    rng = np.random.default_rng(0)
    vectors = np.empty((len(rows), real.shape[1]), np.float32)
    vectors[:limit] = real
    if limit < len(rows):
        base = real[rng.integers(0, limit, len(rows) - limit)]
        noisy = base + rng.normal(0, 0.03, base.shape).astype(np.float32)
        vectors[limit:] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
    embed_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(0, len(docs), 2000):
        corpus.store.write_pending(docs[i : i + 2000])
    corpus.vectors.add([r[0] for r in rows], vectors, [r[1] for r in rows])
    corpus.store.mark_indexed([d.doc_id for d in docs])
    corpus.rebuild_lexical()
    return {
        "chunks": len(rows),
        "embedded_for_real": limit,
        "embed_s": round(embed_s, 1),
        "store_and_index_s": round(time.perf_counter() - t0, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def phase_query(args: argparse.Namespace) -> dict:
    embedder = MiniLMEmbedder(Path(args.cache_dir), batch_size=32, precision=args.precision)
    t0 = time.perf_counter()
    corpus = LocalCorpus(Path(args.data_dir), embedder)
    corpus.search("warm up query", k=10)
    open_s = time.perf_counter() - t0
    rng = random.Random(1)
    pool = sentences()
    queries = [" ".join(rng.choice(pool).split()[: rng.randint(3, 9)]) for _ in range(args.queries)]
    latencies = []
    for q in queries:
        t0 = time.perf_counter()
        corpus.search(q, k=10)
        latencies.append((time.perf_counter() - t0) * 1000)
    lat = np.array(latencies)
    return {
        "chunks": len(corpus.lexical()),
        "queries": len(queries),
        "open_and_first_query_s": round(open_s, 2),
        "p50_ms": round(float(np.percentile(lat, 50)), 2),
        "p95_ms": round(float(np.percentile(lat, 95)), 2),
        "mean_ms": round(float(lat.mean()), 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def ten_page_pdf(path: Path, seed: int) -> Path:
    """A 10-page PDF of ~3,000 characters a page (sample-corpus sentences), written for real."""
    from tests.fixtures.pdfs import minimal_pdf

    rng, pool = random.Random(seed), sentences()
    pages = []
    for _ in range(10):
        words = " ".join(rng.choice(pool) for _ in range(30)).split()
        lines, line = [], ""
        for word in words:
            if len(line) + len(word) > 90:
                lines.append(line)
                line = ""
            line = f"{line} {word}".strip()
        pages.append([*lines, line][:40])
    path.write_bytes(minimal_pdf(pages, title=f"Ten-page report {seed}"))
    return path


def cli(data_dir: str, cache_dir: str, *args: str) -> float:
    """Wall seconds of one `sleuth` command as a new process, as a user runs it."""
    env = {**os.environ, "SLEUTH_DATA_DIR": data_dir, "SLEUTH_MODEL_CACHE_DIR": cache_dir}
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "sleuth", *args], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"sleuth {' '.join(args)} failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    return seconds


def scale(args: argparse.Namespace) -> dict:
    """At ``--scale`` chunks: `sleuth ingest` of one new 10-page PDF and a cold `sleuth search`, each as
    a new process, ``--repeats`` times (medians); the empty-command start-up cost beside them."""
    data_dir = args.data_dir or tempfile.mkdtemp(prefix=f"sleuth-bench-{args.scale}-")
    if not (Path(data_dir) / "sleuth.duckdb").exists():
        build = run_phase(
            "build", "--size", str(args.scale), "--data-dir", data_dir, "--cache-dir", args.cache_dir
        )
        print("build:", json.dumps(build), flush=True)
    work = Path(tempfile.mkdtemp(prefix="sleuth-bench-pdf-"))
    startup = [cli(data_dir, args.cache_dir, "--help") for _ in range(args.repeats)]
    adds = [
        cli(data_dir, args.cache_dir, "ingest", str(ten_page_pdf(work / f"report{i}.pdf", i)))
        for i in range(args.repeats)
    ]
    rng, pool = random.Random(5), sentences()
    queries = [" ".join(rng.choice(pool).split()[:6]) for _ in range(args.repeats)]
    searches = [cli(data_dir, args.cache_dir, "search", q, "-k", "10") for q in queries]
    segments = json.loads((Path(data_dir) / "lexical" / "manifest.json").read_text())["segments"]
    return {
        "chunks": sum(s["rows"] for s in segments),
        "segments": len(segments),
        "add_10_page_pdf_s_median": round(float(np.median(adds)), 2),
        "add_s_all": [round(a, 2) for a in adds],
        "cold_search_s_median": round(float(np.median(searches)), 2),
        "search_s_all": [round(a, 2) for a in searches],
        "python_start_help_s_median": round(float(np.median(startup)), 2),
        "data_dir": data_dir,
    }


PHASES = {"ingest": phase_ingest, "build": phase_build, "query": phase_query}


def run_phase(name: str, *extra: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--phase", name, *extra], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"phase {name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--phase", choices=sorted(PHASES))
    ap.add_argument("--docs", type=int, default=300, help="documents for the ingest phase")
    ap.add_argument("--doc-chars", type=int, default=3000)
    ap.add_argument(
        "--sizes", type=int, nargs="+", default=[10_000, 100_000], help="chunk counts for query latency"
    )
    ap.add_argument("--size", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--embed-limit", type=int, default=5000)
    ap.add_argument("--embed-all", action="store_true")
    ap.add_argument("--data-dir")
    ap.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "sleuth" / "models"))
    ap.add_argument(
        "--precision", default="fp32", choices=["fp32", "int8"], help="the embedding model's weights"
    )
    ap.add_argument("--scale", type=int, help="only the scale figures, at this many chunks")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    if args.scale:
        print("scale:", json.dumps(scale(args)), flush=True)
        return
    if args.phase:
        print(json.dumps(PHASES[args.phase](args)))
        return
    common = ["--cache-dir", args.cache_dir, "--precision", args.precision]
    results = {
        "ingest": run_phase("ingest", "--docs", str(args.docs), "--doc-chars", str(args.doc_chars), *common)
    }
    print("ingest:", json.dumps(results["ingest"]), flush=True)
    for size in args.sizes:
        data_dir = tempfile.mkdtemp(prefix=f"sleuth-bench-{size}-")
        flags = ["--size", str(size), "--data-dir", data_dir, "--embed-limit", str(args.embed_limit), *common]
        build = run_phase("build", *flags, *(["--embed-all"] if args.embed_all else []))
        query = run_phase("query", *flags, "--queries", str(args.queries))
        results[f"query_{size}"] = {"build": build, "query": query}
        print(f"query@{size}:", json.dumps(results[f"query_{size}"]), flush=True)


if __name__ == "__main__":
    main()
