"""The lexical (BM25) index: a snapshot of immutable segments (tools/corpus/bm25_segment.py) named by a
small manifest, so a search never opens DuckDB and an ingest never rebuilds the whole index.

Adding documents writes one new segment; removing or replacing one marks it dead in a per-segment
mask. Scores use statistics over all live rows (Lucene BM25, as bm25s computes it: the same scores
as one index over the same chunks), so how the index is cut into segments never changes a ranking.
Small segments are merged as they accumulate (sizes stay roughly geometric, so a chunk is merged
O(log n) times), and a segment that is mostly dead is compacted.

Why not DuckDB's FTS: at 50k docs an in-memory BM25 answers in ~2 ms against DuckDB FTS's ~38 ms
(FINDINGS.md), and the hybrid search must answer in <= 20 ms at 100k chunks.

Layout: ``manifest.json`` (generation, segments, their dead-document masks; replaced atomically, last),
``seg-<n>/`` folders, ``dead-<n>-<generation>.npy`` masks. Files the current and the previous manifest
name are kept, so a reader that has just read the previous manifest can still open it.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock

from sleuth.tools.corpus.bm25_segment import (
    Segment,
    doc_key,
    hashes,
    index_text,
    merge_segments,
    string_hash,
    tokenize,
    write_segment,
)
from sleuth.tools.corpus.store import ChunkRow
from sleuth.tools.errors import StoreError

__all__ = ["LexicalIndex", "build_lexical_index", "index_text", "snapshot_generation", "tokenize"]

BM25_K1 = 0.9  # Anserini's BEIR defaults; they beat (1.2, 0.75) on short scientific chunks
BM25_B = 0.4
MANIFEST = "manifest.json"
FORMAT = 1  # of the segment files: a snapshot in another format is rebuilt, never misread
MAX_SEGMENTS = 24
COMPACT_DEAD_SHARE = 0.5  # a segment with more dead rows than this is rewritten


class LexicalIndex:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        manifest = _read_manifest(folder)
        if manifest is None:
            raise StoreError(f"no search index at {folder}; run `sleuth ingest` to build it")
        self.generation = int(manifest["generation"])
        try:
            self.segments = [
                Segment(folder / s["name"], np.load(folder / s["dead"]) if s.get("dead") else None)
                for s in manifest["segments"]
            ]
        except (OSError, ValueError) as e:
            raise StoreError(
                f"the search index at {folder} is damaged ({e}); `sleuth doctor` rebuilds it from the database"
            ) from e
        self._bases = np.cumsum([0] + [s.rows for s in self.segments])
        self._live = sum(s.live_rows() for s in self.segments)
        total_length = sum(s.live_length() for s in self.segments)
        self._avg_length = total_length / self._live if self._live else 1.0

    def __len__(self) -> int:
        return self._live

    def term_scores(self, token: str) -> np.ndarray | None:
        """BM25 score of one (already tokenised) term for every row, or None for an unknown term."""
        term = string_hash(token)
        hits = []
        for base, seg in zip(self._bases.tolist(), self.segments, strict=False):
            postings = seg.postings(term)
            if postings is not None:
                hits.append((base, seg, *postings))
        if not hits:
            return None
        df = sum(len(rows) for _, _, rows, _ in hits)
        idf = math.log(1 + (self._live - df + 0.5) / (df + 0.5))
        scores = np.zeros(int(self._bases[-1]), np.float32)
        for base, seg, rows, tf in hits:
            norm = BM25_K1 * ((1 - BM25_B) + BM25_B * seg.chunk_len[rows] / self._avg_length)
            scores[base + rows] = idf * tf / (norm + tf)
        return scores

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """Best rows for the query as (row, bm25 score), best first; empty when no query term is known."""
        if not self._live:
            return []
        total: np.ndarray | None = None
        for token in tokenize([query])[0]:  # a repeated query term counts each time, as in bm25s
            scores = self.term_scores(token)
            if scores is not None:
                total = scores if total is None else total + scores
        if total is None:
            return []
        top = np.argpartition(-total, min(k, len(total)) - 1)[:k]
        top = top[total[top] > 0]
        top = top[np.lexsort((top, -total[top]))]  # best first, ties by row: deterministic
        return [(int(r), float(total[r])) for r in top]

    def _locate(self, i: int) -> tuple[Segment, int]:
        s = int(np.searchsorted(self._bases, i, side="right")) - 1
        return self.segments[s], i - int(self._bases[s])

    def row(self, i: int) -> ChunkRow:
        segment, local = self._locate(i)
        return segment.row(local)

    def row_indices(self, chunk_ids: Sequence[str]) -> list[int | None]:
        """The row of each chunk id, None where it is not (or no longer) in the index."""
        found: list[int | None] = [None] * len(chunk_ids)
        if not chunk_ids:
            return found
        wanted = hashes(chunk_ids)
        for base, seg in reversed(list(zip(self._bases.tolist(), self.segments, strict=False))):
            for j, row in enumerate(seg.find(wanted, chunk_ids)):
                if row is not None and found[j] is None:
                    found[j] = base + row
        return found

    def row_index(self, chunk_id: str) -> int | None:
        return self.row_indices([chunk_id])[0]

    def changed_documents(self, current: dict[str, str]) -> tuple[list[str], int]:
        """Against the store's ``current`` doc_id -> version: the documents to (re-)index (new or
        changed), and how many indexed documents are gone or outdated. Compared as 64-bit hashes of
        (id, version), so it costs NumPy set operations, not a string per indexed document."""
        ids = list(current)
        wanted = hashes([doc_key(d, current[d]) for d in ids])
        live = [
            seg.doc_key if seg.dead_docs is None else seg.doc_key[~seg.dead_docs] for seg in self.segments
        ]
        indexed = np.concatenate(live) if live else np.zeros(0, np.uint64)
        fresh = np.flatnonzero(~np.isin(wanted, indexed))
        return [ids[i] for i in fresh.tolist()], int(np.count_nonzero(~np.isin(indexed, wanted)))

    def doc_versions(self) -> dict[str, str]:
        """doc_id -> version of every live document in the snapshot."""
        versions: dict[str, str] = {}
        for seg in self.segments:
            versions.update({doc_id: v for doc_id, (v, _) in seg.doc_versions().items()})
        return versions


@dataclass
class _Entry:
    """A segment as the writer sees it: its dead-document mask and the file that mask is saved in."""

    name: str
    segment: Segment
    dead: np.ndarray  # bool per document of the segment
    dead_file: str | None = None
    changed: bool = False

    def live(self) -> int:
        if not self.dead.any():
            return self.segment.rows
        return int(self.segment.rows - np.count_nonzero(self.dead[self.segment.doc_of]))

    def opened(self) -> Segment:
        return Segment(self.segment.folder, self.dead)


def build_lexical_index(
    folder: Path,
    rows: list[ChunkRow],
    generation: int,
    versions: dict[str, str] | None = None,
    *,
    extra_files: dict[str, str] | None = None,
) -> None:
    """A whole new snapshot of ``rows`` (with ``extra_files`` beside it: the web's provenance), built in
    a staging folder and swapped in when complete, so readers never see half an index."""
    token = f"{os.getpid()}-{threading.get_ident()}"  # parallel branches in one process must not collide
    staging = folder.with_name(f"{folder.name}.build{token}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        segments = []
        if rows:
            write_segment(staging / "seg-1", rows, versions or {})
            segments.append({"name": "seg-1", "rows": len(rows), "dead": None})
        for name, text in (extra_files or {}).items():
            (staging / name).write_text(text)
        _write_manifest(
            staging, {"format": FORMAT, "generation": generation, "segments": segments, "next": 2, "keep": []}
        )
    except OSError as e:  # a full disk, say: the half-written snapshot goes, the old one keeps serving
        shutil.rmtree(staging, ignore_errors=True)
        raise StoreError(
            f"cannot write the search index at {folder}: {e.strerror or e}; the previous index is intact"
        ) from e
    old = folder.with_name(f"{folder.name}.old{token}")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        os.replace(folder, old)
    os.replace(staging, folder)
    shutil.rmtree(old, ignore_errors=True)


def update_lexical_index(
    folder: Path, *, added: list[ChunkRow], current: dict[str, str], generation: int
) -> dict[str, int]:
    """Bring the snapshot in place to ``current`` (doc_id -> version of every document there is now):
    indexed documents not in it at that version, and older copies of ``added``'s documents, are marked
    dead; ``added`` rows become a new segment; then small or mostly dead segments are merged. Readers
    see the old snapshot until the new manifest is in. One writer at a time (a file lock beside it)."""
    with FileLock(str(folder.with_name(folder.name + ".lock"))):
        manifest = _read_manifest(folder)
        if manifest is None:
            raise StoreError(f"no search index at {folder} to update")
        try:
            return _update(folder, manifest, added, current, generation)
        except OSError as e:  # a full disk: the manifest was not replaced, the old snapshot serves
            raise StoreError(
                f"cannot update the search index at {folder}: {e.strerror or e}; the previous index is intact"
            ) from e


def _update(
    folder: Path,
    manifest: dict,
    added: list[ChunkRow],
    current: dict[str, str],
    generation: int,
) -> dict[str, int]:
    counter = int(manifest["next"])

    def fresh(prefix: str) -> str:
        nonlocal counter
        counter += 1
        return f"{prefix}-{counter - 1}"

    entries = []
    for s in manifest["segments"]:
        segment = Segment(folder / s["name"])
        dead = np.load(folder / s["dead"]).copy() if s.get("dead") else np.zeros(segment.doc_count, bool)
        entries.append(_Entry(s["name"], segment, dead, s.get("dead")))
    replaced = hashes(sorted({r.doc_id for r in added}))
    wanted = hashes([doc_key(d, v) for d, v in current.items()])
    for entry in entries:
        gone = ~np.isin(entry.segment.doc_key, wanted) | np.isin(entry.segment.doc_hash, replaced)
        hit = gone & ~entry.dead
        if hit.any():
            entry.dead[hit] = entry.changed = True
    if added:
        name = fresh("seg")
        write_segment(folder / name, added, current)
        segment = Segment(folder / name)
        entries.append(_Entry(name, segment, np.zeros(segment.doc_count, bool)))
    entries, merged = _merge(folder, entries, fresh)
    for entry in entries:
        if entry.changed:
            entry.dead_file = f"{fresh('dead')}.npy"
            np.save(folder / entry.dead_file, entry.dead)
    previous = [s["name"] for s in manifest["segments"]]
    previous += [s["dead"] for s in manifest["segments"] if s.get("dead")]
    new_manifest = {
        "format": FORMAT,
        "generation": generation,
        "segments": [
            {"name": e.name, "rows": e.segment.rows, "dead": e.dead_file if e.dead.any() else None}
            for e in entries
        ],
        "next": counter,
        "keep": previous,
    }
    _write_manifest(folder, new_manifest)
    _collect_garbage(folder, new_manifest)
    return {"segments": len(entries), "merged": merged, "added_rows": len(added)}


def _merge(folder: Path, entries: list[_Entry], fresh) -> tuple[list[_Entry], int]:  # noqa: ANN001
    """Merge the newest segments while the one before holds no more live rows than the newest (a binary
    counter: log-many segments), and compact mostly dead ones. Returns the entries and how many
    segments were merged away."""
    merged = 0

    def rewrite(group: list[_Entry]) -> _Entry:
        nonlocal merged
        name = fresh("seg")
        merge_segments(folder / name, [e.opened() for e in group])
        merged += len(group)
        segment = Segment(folder / name)
        return _Entry(name, segment, np.zeros(segment.doc_count, bool))

    entries = [e for e in entries if e.live()]  # a wholly dead segment just goes
    for i, e in enumerate(entries):
        if 1 - e.live() / e.segment.rows > COMPACT_DEAD_SHARE:
            entries[i] = rewrite([e])
    while len(entries) >= 2 and (entries[-2].live() <= entries[-1].live() or len(entries) > MAX_SEGMENTS):
        entries[-2:] = [rewrite(entries[-2:])]
    return entries, merged


def _read_manifest(folder: Path) -> dict | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("format") == FORMAT else None


def _write_manifest(folder: Path, manifest: dict) -> None:
    tmp = folder / f"{MANIFEST}.tmp{os.getpid()}"
    tmp.write_text(json.dumps(manifest))
    os.replace(tmp, folder / MANIFEST)


def _collect_garbage(folder: Path, manifest: dict) -> None:
    named = {s["name"] for s in manifest["segments"]} | {s["dead"] for s in manifest["segments"] if s["dead"]}
    named |= set(manifest["keep"]) | {MANIFEST}
    for path in folder.iterdir():
        if path.name not in named and not path.name.startswith(f"{MANIFEST}.tmp"):
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)


def snapshot_generation(folder: Path) -> int | None:
    manifest = _read_manifest(folder)
    return None if manifest is None else int(manifest["generation"])
