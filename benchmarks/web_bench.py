"""Web figures against the loopback test site (tests/fakes/web_server.py) run in its own process:

- extraction time per ~100 KB article (trafilatura, no network),
- pages fetched + extracted per second with 8 concurrent fetches (robots.txt on, politeness off),
- cache hit rate and time of a repeated gather of the same URLs (DuckDB web_pages),
- indexing a batch of fetched pages as web documents (chunk, embed, web BM25 snapshot).

  python benchmarks/web_bench.py                    # 200 pages of ~100 KB, 20 of them indexed
  python benchmarks/web_bench.py --pages 400 --kb 50 --concurrency 16 --index-pages 0
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sleuth.tools.corpus.local_corpus import LocalCorpus  # noqa: E402
from sleuth.tools.embeddings import MiniLMEmbedder  # noqa: E402
from sleuth.tools.web import FetchConfig, PageCache, WebCorpus, WebFetcher, WebGatherer  # noqa: E402
from sleuth.tools.web.pages import extract_body  # noqa: E402
from sleuth.wiring import chunk_size  # noqa: E402
from tests.fakes.web_server import page_html  # noqa: E402

_SERVE = """
import sys
sys.path.insert(0, {root!r})
from tests.fakes.web_server import TestSite
with TestSite(page_kb={kb}) as site:
    print(site.port, flush=True)
    sys.stdin.read()
"""


def start_site(kb: int) -> tuple[subprocess.Popen[str], str]:
    """The test site in a child process, so its threads do not share our GIL."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVE.format(root=str(ROOT), kb=kb)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, f"http://127.0.0.1:{int(proc.stdout.readline())}"


def extraction_ms(kb: int, repeats: int) -> dict[str, float]:
    bodies = [page_html(i, kb).encode() for i in range(repeats)]
    extract_body(bodies[0], "html", "http://bench/0", "utf-8")  # warm-up (imports, lxml)
    times = []
    for i, body in enumerate(bodies):
        started = time.perf_counter()
        extract_body(body, "html", f"http://bench/{i}", "utf-8")
        times.append((time.perf_counter() - started) * 1000)
    return {
        "page_kb": round(len(bodies[0]) / 1024, 1),
        "extract_ms_p50": round(statistics.median(times), 1),
        "extract_ms_max": round(max(times), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--kb", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--index-pages", type=int, default=20)
    parser.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "sleuth" / "models"))
    args = parser.parse_args()
    figures: dict[str, object] = {"extraction": extraction_ms(args.kb, 20)}
    proc, base = start_site(args.kb)
    config = FetchConfig(
        allowed_networks=("127.0.0.1/32",),
        politeness_s=0.0,
        per_host_concurrency=args.concurrency,
        concurrency=args.concurrency,
        deadline_s=30.0,
    )
    urls = [f"{base}/page/{i}" for i in range(args.pages)]
    try:
        with tempfile.TemporaryDirectory() as tmp, WebFetcher(config) as fetcher:
            fetcher.fetch(f"{base}/page/999999")  # warm-up: robots.txt, connection, extractor
            started = time.perf_counter()
            results = fetcher.fetch_many(urls, max_concurrency=args.concurrency)
            seconds = time.perf_counter() - started
            ok = sum(r.ok for r in results)
            figures["fetch_extract"] = {
                "pages": args.pages,
                "ok": ok,
                "concurrency": args.concurrency,
                "seconds": round(seconds, 2),
                "pages_per_s": round(ok / seconds, 1),
            }
            figures["cache"] = repeated_gather(fetcher, Path(tmp), urls)
            if args.index_pages:
                figures["index"] = index_pages(
                    fetcher, Path(tmp), Path(args.cache_dir), urls[: args.index_pages]
                )
    finally:
        proc.communicate("", timeout=10)
    print(json.dumps(figures, indent=2))


def repeated_gather(fetcher: WebFetcher, tmp: Path, urls: list[str]) -> dict[str, float]:
    gatherer = WebGatherer(fetcher, PageCache(tmp / "cache.duckdb"), None, cache_ttl_s=3600)
    started = time.perf_counter()
    first = gatherer.gather(urls)
    first_s = time.perf_counter() - started
    started = time.perf_counter()
    second = gatherer.gather(urls)
    second_s = time.perf_counter() - started
    return {
        "first_run_s": round(first_s, 2),
        "first_hit_rate": first.cache_hit_rate,
        "repeat_run_s": round(second_s, 2),
        "repeat_hit_rate": second.cache_hit_rate,
    }


def index_pages(fetcher: WebFetcher, tmp: Path, cache_dir: Path, urls: list[str]) -> dict[str, float]:
    local = LocalCorpus(tmp / "data", MiniLMEmbedder(cache_dir))
    local.embedder.embed(["warm-up"])
    web = WebCorpus(local, **chunk_size())
    pages = [r for r in fetcher.fetch_many(urls) if r.ok]
    started = time.perf_counter()
    doc_ids = web.add_pages(pages)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    chunks = len(web.snapshot().index)
    started = time.perf_counter()
    web.rebuild_lexical()
    rebuild_s = time.perf_counter() - started
    return {
        "pages": len(doc_ids),
        "chunks": chunks,
        "seconds": round(seconds, 2),
        "chunks_per_s": round(chunks / seconds, 1),
        "web_snapshot_rebuild_s": round(rebuild_s, 3),
    }


if __name__ == "__main__":
    main()
