"""BM25 over chunk text (bm25s + Snowball stemming), saved to disk with a read-only snapshot of the
chunk metadata so a search never has to open DuckDB.

Why bm25s and not DuckDB's FTS: both load offline, but at 50k docs bm25s answers in ~2 ms against
DuckDB FTS's ~38 ms (FINDINGS.md), and the hybrid search must answer in <= 20 ms at 100k chunks.
Both need a rebuild to add documents; we rebuild when the corpus generation changes.

Layout of the snapshot folder: ``bm25/`` (bm25s index), ``texts.bin`` (utf-8 chunk texts back to back,
memory-mapped), ``meta.npz`` (offsets into texts.bin, char spans), ``rows.json`` (chunk/doc ids and
document titles/sources), ``generation`` (the corpus generation it was built from, written last).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

from sleuth.tools.corpus.store import ChunkRow
from sleuth.tools.errors import StoreError

_STEMMER = Stemmer.Stemmer("english")
BM25_K1 = 0.9  # Anserini's BEIR defaults; they beat (1.2, 0.75) on short scientific chunks
BM25_B = 0.4


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    return bm25s.tokenize(
        list(texts), stopwords="en", stemmer=_STEMMER, return_ids=False, show_progress=False
    )


def index_text(title: str, text: str) -> str:
    """What gets indexed for a chunk: its document title (a strong topical cue) and its text."""
    return f"{title}\n{text}" if title else text


class LexicalIndex:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.generation = int((folder / "generation").read_text())
        bm25_dir = folder / "bm25"
        self._bm25 = (
            bm25s.BM25.load(str(bm25_dir), mmap=True, show_progress=False, verbosity=0)
            if bm25_dir.exists()
            else None
        )
        meta = np.load(folder / "meta.npz")
        self._offsets, self._starts, self._ends = meta["offsets"], meta["starts"], meta["ends"]
        rows = json.loads((folder / "rows.json").read_text())
        self.chunk_ids: list[str] = rows["chunk_ids"]
        self._doc_index: np.ndarray = np.asarray(rows["doc_index"], dtype=np.int32)
        self._docs: list[list[str]] = rows["docs"]  # [doc_id, title, source, origin]
        self.row_of = {cid: i for i, cid in enumerate(self.chunk_ids)}
        size = (folder / "texts.bin").stat().st_size
        self._texts = (
            np.memmap(folder / "texts.bin", dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)
        )

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """Best rows for the query as (row, bm25 score), best first; empty when no query term is known."""
        if self._bm25 is None:
            return []
        tokens = [t for t in tokenize([query])[0] if t in self._bm25.vocab_dict]
        if not tokens:
            return []
        # get_scores + argpartition: bm25s.retrieve starts a thread pool per call (~3 ms at 100k chunks)
        scores = self._bm25.get_scores(tokens)
        top = np.argpartition(-scores, min(k, len(scores)) - 1)[:k]
        top = top[scores[top] > 0]
        top = top[np.lexsort((top, -scores[top]))]  # best first, ties by row: deterministic
        return [(int(r), float(scores[r])) for r in top]

    def row(self, i: int) -> ChunkRow:
        doc_id, title, source, origin = self._docs[self._doc_index[i]]
        text = bytes(self._texts[self._offsets[i] : self._offsets[i + 1]]).decode("utf-8")
        return ChunkRow(
            self.chunk_ids[i], doc_id, title, source, origin, int(self._starts[i]), int(self._ends[i]), text
        )


def build_lexical_index(folder: Path, rows: list[ChunkRow], generation: int) -> None:
    """Build the snapshot in a temporary folder and swap it in, so readers never see half an index."""
    tmp = folder.with_name(f"{folder.name}.tmp{os.getpid()}-{threading.get_ident()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _write_snapshot(tmp, rows, generation)
    except OSError as e:  # a full disk, say: the half-written snapshot goes, the old one keeps serving
        shutil.rmtree(tmp, ignore_errors=True)
        raise StoreError(
            f"cannot write the search index at {folder}: {e.strerror or e}; the previous index is intact"
        ) from e
    old = folder.with_name(f"{folder.name}.old{os.getpid()}-{threading.get_ident()}")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        os.replace(folder, old)
    os.replace(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)


def _write_snapshot(tmp: Path, rows: list[ChunkRow], generation: int) -> None:
    tmp.mkdir(parents=True)
    if rows:  # bm25s cannot index an empty corpus; a snapshot without bm25/ answers nothing
        bm25 = bm25s.BM25(k1=BM25_K1, b=BM25_B, method="lucene")
        bm25.index(tokenize([index_text(r.title, r.text) for r in rows]), show_progress=False)
        bm25.save(str(tmp / "bm25"), show_progress=False)
    encoded = [r.text.encode("utf-8") for r in rows]
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(b) for b in encoded])
    (tmp / "texts.bin").write_bytes(b"".join(encoded))
    np.savez(
        tmp / "meta.npz",
        offsets=offsets,
        starts=np.array([r.start for r in rows], dtype=np.int64),
        ends=np.array([r.end for r in rows], dtype=np.int64),
    )
    docs: dict[str, int] = {}
    doc_list: list[list[str]] = []
    for r in rows:
        if r.doc_id not in docs:
            docs[r.doc_id] = len(doc_list)
            doc_list.append([r.doc_id, r.title, r.source, r.origin])
    payload = {
        "chunk_ids": [r.chunk_id for r in rows],
        "doc_index": [docs[r.doc_id] for r in rows],
        "docs": doc_list,
    }
    (tmp / "rows.json").write_text(json.dumps(payload))
    (tmp / "generation").write_text(str(generation))


def snapshot_generation(folder: Path) -> int | None:
    try:
        return int((folder / "generation").read_text())
    except (OSError, ValueError):
        return None
