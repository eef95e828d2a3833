"""The segmented BM25 index against bm25s over the same chunks: same scores however the index was cut
into segments, through adds, replacements, removals and merges."""

from __future__ import annotations

import random
from pathlib import Path

import bm25s
import numpy as np
import pytest

from sleuth.tools.corpus.lexical import (
    BM25_B,
    BM25_K1,
    LexicalIndex,
    build_lexical_index,
    index_text,
    tokenize,
    update_lexical_index,
)
from sleuth.tools.corpus.store import ChunkRow

WORDS_TEXT = (
    "fusion rank dense sparse retrieval lexical vector embedding query passage reranker cross encoder bm25 "
    "chunk corpus citation verifier claim evidence graph planner budget token window context model"
)
WORDS = WORDS_TEXT.split()


def make_doc(doc_id: str, rng: random.Random, chunks: int = 3, title: str = "") -> list[ChunkRow]:
    rows = []
    for i in range(chunks):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 30)))
        rows.append(
            ChunkRow(
                f"{doc_id}-c{i}",
                doc_id,
                title or f"Note {doc_id}",
                f"/{doc_id}.md",
                "local",
                0,
                len(text),
                text,
            )
        )
    return rows


def reference(rows: list[ChunkRow], query: str) -> dict[str, float]:
    """chunk_id -> score of a bm25s index built over exactly these rows."""
    bm25 = bm25s.BM25(k1=BM25_K1, b=BM25_B, method="lucene")
    bm25.index(tokenize([index_text(r.title, r.text) for r in rows]), show_progress=False)
    tokens = [t for t in tokenize([query])[0] if t in bm25.vocab_dict]
    scores = bm25.get_scores(tokens) if tokens else np.zeros(len(rows))
    return {r.chunk_id: float(s) for r, s in zip(rows, scores, strict=True) if s > 0}


def ours(index: LexicalIndex, query: str) -> dict[str, float]:
    return {index.row(row).chunk_id: score for row, score in index.search(query, 10_000)}


def assert_same(index: LexicalIndex, rows: list[ChunkRow]) -> None:
    assert len(index) == len(rows)
    for query in [
        "dense fusion",
        "reranker cross encoder passage",
        "budget budget token",
        "unknownword",
        "Note d3",
    ]:
        expected, got = reference(rows, query), ours(index, query)
        assert got.keys() == expected.keys(), query
        for chunk_id, score in expected.items():
            assert got[chunk_id] == pytest.approx(score, rel=1e-5), (query, chunk_id)


def versions(rows: list[ChunkRow]) -> dict[str, str]:
    return {r.doc_id: f"v-{r.doc_id}-{len(r.text)}" for r in rows}


def test_one_segment_scores_as_bm25s(tmp_path: Path) -> None:
    rng = random.Random(1)
    rows = [r for d in range(12) for r in make_doc(f"d{d}", rng)]
    build_lexical_index(tmp_path / "lex", rows, 1, versions(rows))
    index = LexicalIndex(tmp_path / "lex")
    assert_same(index, rows)
    assert index.row_index("d4-c1") is not None and index.row(index.row_index("d4-c1")) == rows[13]
    assert index.row_indices(["nope", "d0-c0"]) == [None, 0]


def test_adds_replacements_removals_and_merges_keep_bm25s_scores(tmp_path: Path) -> None:
    rng = random.Random(2)
    folder = tmp_path / "lex"
    docs = {f"d{d}": make_doc(f"d{d}", rng) for d in range(6)}
    first = [r for rows in docs.values() for r in rows]
    build_lexical_index(folder, first, 1, versions(first))
    for step in range(2, 40):
        added: list[ChunkRow] = []
        removed: set[str] = set()
        for _ in range(rng.randint(1, 3)):
            doc_id = f"d{rng.randint(0, 40)}"
            if doc_id in docs and rng.random() < 0.3:
                removed.add(doc_id)
                docs.pop(doc_id)
                added = [r for r in added if r.doc_id != doc_id]
            else:  # new or replaced
                docs[doc_id] = make_doc(doc_id, rng, chunks=rng.randint(1, 4))
                added = [r for r in added if r.doc_id != doc_id] + docs[doc_id]
        current = [r for rows in docs.values() for r in rows]
        update_lexical_index(folder, added=added, current=versions(current), generation=step)
        assert LexicalIndex(folder).changed_documents(versions(current)) == ([], 0)
        index = LexicalIndex(folder)
        assert index.generation == step
        assert_same(index, current)
        assert len(index.segments) <= 8  # merged as they accumulate
        for doc_id in removed - set(docs):
            assert index.row_index(f"{doc_id}-c0") is None
        assert set(index.doc_versions()) == set(docs)


def test_a_reader_opened_before_an_update_keeps_working(tmp_path: Path) -> None:
    rng = random.Random(3)
    folder = tmp_path / "lex"
    rows = [r for d in range(4) for r in make_doc(f"d{d}", rng)]
    build_lexical_index(folder, rows, 1, versions(rows))
    before = LexicalIndex(folder)
    expected = ours(before, "dense fusion")
    current = versions(rows)
    del current["d0"]
    d9, d8 = make_doc("d9", rng), make_doc("d8", rng)
    update_lexical_index(folder, added=d9, current={**current, **versions(d9)}, generation=2)
    update_lexical_index(folder, added=d8, current={**current, **versions(d9 + d8)}, generation=3)
    assert "d0" not in LexicalIndex(folder).doc_versions() and len(LexicalIndex(folder)) == len(rows) - 3 + 6
    assert ours(before, "dense fusion") == expected
    assert before.row(0).doc_id == "d0"


def test_an_empty_index_answers_nothing(tmp_path: Path) -> None:
    build_lexical_index(tmp_path / "lex", [], 1)
    index = LexicalIndex(tmp_path / "lex")
    assert len(index) == 0 and index.search("dense", 5) == [] and index.row_index("x") is None
    added = make_doc("d1", random.Random(0))
    update_lexical_index(tmp_path / "lex", added=added, current=versions(added), generation=2)
    assert len(LexicalIndex(tmp_path / "lex")) == 3
