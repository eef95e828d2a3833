"""One immutable piece of the lexical index on disk: BM25 postings over a set of chunks, and what a
search hit needs of them (text, span, document), as NumPy arrays that open memory-mapped.

Nothing here parses the corpus at open: terms and chunk ids are found by binary search over sorted
64-bit hashes, strings are sliced out of packed byte files. So opening costs the same at 1k or 1M
chunks. Postings keep raw term frequencies and chunk lengths (not precomputed scores), so a search can
score with statistics over all live segments, and segments can be merged without re-tokenising.

Files of a segment folder: ``terms`` (sorted term hashes), ``term_ptr`` (postings of term i are
``term_ptr[i]:term_ptr[i+1]``), ``post_rows``, ``post_tf``, ``chunk_len`` (tokens per chunk),
``starts``/``ends`` (char spans), ``doc_of`` (document of each row), ``id_hash``/``id_row`` (chunk id
lookup), ``doc_hash``/``doc_key`` (per document: hash of its id, and of its id and version, so a sync
can compare a segment's documents with the store's without reading a string), and packed strings
``text``, ``chunk_id``, ``doc_id``, ``doc_version``, ``title``, ``source``, ``origin`` (``<name>.bin``
+ ``<name>.off.npy``).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

from sleuth.tools.corpus.store import ChunkRow

_STEMMER = Stemmer.Stemmer("english")
DOC_FIELDS = ("doc_id", "doc_version", "title", "source", "origin")


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    return bm25s.tokenize(
        list(texts), stopwords="en", stemmer=_STEMMER, return_ids=False, show_progress=False
    )


def index_text(title: str, text: str) -> str:
    """What gets indexed for a chunk: its document title (a strong topical cue) and its text."""
    return f"{title}\n{text}" if title else text


def string_hash(value: str) -> int:
    """A stable 64-bit hash (Python's ``hash`` changes per process)."""
    return int.from_bytes(hashlib.blake2b(value.encode("utf-8"), digest_size=8).digest(), "little")


def hashes(values: Sequence[str]) -> np.ndarray:
    return np.fromiter((string_hash(v) for v in values), dtype=np.uint64, count=len(values))


class PackedStrings:
    """Strings back to back in one byte file, with an offsets array; opened memory-mapped."""

    def __init__(self, folder: Path, name: str) -> None:
        self.offsets = np.load(folder / f"{name}.off.npy", mmap_mode="r")
        path = folder / f"{name}.bin"
        self.data = (
            np.memmap(path, dtype=np.uint8, mode="r") if path.stat().st_size else np.zeros(0, np.uint8)
        )

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> str:
        return self.raw(i).decode("utf-8")

    def raw(self, i: int) -> bytes:
        return self.data[self.offsets[i] : self.offsets[i + 1]].tobytes()


def _write_packed(folder: Path, name: str, items: Sequence[bytes]) -> None:
    offsets = np.zeros(len(items) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(b) for b in items])
    (folder / f"{name}.bin").write_bytes(b"".join(items))
    np.save(folder / f"{name}.off.npy", offsets)


class Segment:
    """A segment opened read-only. ``dead_docs`` (a bool per document, from the snapshot manifest) hides
    the rows of documents removed or replaced since the segment was written."""

    def __init__(self, folder: Path, dead_docs: np.ndarray | None = None) -> None:
        self.folder = folder

        def load(name: str) -> np.ndarray:
            return np.load(folder / f"{name}.npy", mmap_mode="r")

        self.terms, self.term_ptr = load("terms"), load("term_ptr")
        self.post_rows, self.post_tf = load("post_rows"), load("post_tf")
        self.chunk_len, self.starts, self.ends = load("chunk_len"), load("starts"), load("ends")
        self.doc_of, self.id_hash, self.id_row = load("doc_of"), load("id_hash"), load("id_row")
        self.doc_hash, self.doc_key = load("doc_hash"), load("doc_key")
        self.text, self.chunk_ids = PackedStrings(folder, "text"), PackedStrings(folder, "chunk_id")
        self.docs = {name: PackedStrings(folder, name) for name in DOC_FIELDS}
        self.dead_docs = dead_docs if dead_docs is not None and dead_docs.any() else None
        # a row is dead when its document is; computed once per open, only for segments with deletions
        self.dead_rows = None if self.dead_docs is None else self.dead_docs[self.doc_of]

    @property
    def rows(self) -> int:
        return len(self.doc_of)

    @property
    def doc_count(self) -> int:
        return len(self.docs["doc_id"])

    def live_rows(self) -> int:
        return self.rows if self.dead_rows is None else int(self.rows - self.dead_rows.sum())

    def live_length(self) -> float:
        lengths = self.chunk_len if self.dead_rows is None else self.chunk_len[~self.dead_rows]
        return float(np.sum(lengths, dtype=np.float64))

    def postings(self, term: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(rows, term frequencies) of one term hash, live rows only; None when the term is absent."""
        i = int(np.searchsorted(self.terms, np.uint64(term)))
        if i >= len(self.terms) or int(self.terms[i]) != term:
            return None
        rows = self.post_rows[self.term_ptr[i] : self.term_ptr[i + 1]]
        tf = self.post_tf[self.term_ptr[i] : self.term_ptr[i + 1]]
        if self.dead_rows is not None:
            keep = ~self.dead_rows[rows]
            rows, tf = rows[keep], tf[keep]
        return (rows, tf) if len(rows) else None

    def find(self, id_hashes: np.ndarray, chunk_ids: Sequence[str]) -> list[int | None]:
        """The live row of each chunk id here, or None."""
        found: list[int | None] = [None] * len(chunk_ids)
        if not len(self.id_hash):
            return found
        at = np.minimum(np.searchsorted(self.id_hash, id_hashes), len(self.id_hash) - 1)
        for j, (i, cid) in enumerate(zip(at.tolist(), chunk_ids, strict=True)):
            row = int(self.id_row[i])
            same = int(self.id_hash[i]) == int(id_hashes[j]) and self.chunk_ids[row] == cid
            if same and (self.dead_rows is None or not self.dead_rows[row]):
                found[j] = row
        return found

    def row(self, i: int) -> ChunkRow:
        d = int(self.doc_of[i])
        return ChunkRow(
            self.chunk_ids[i],
            self.docs["doc_id"][d],
            self.docs["title"][d],
            self.docs["source"][d],
            self.docs["origin"][d],
            int(self.starts[i]),
            int(self.ends[i]),
            self.text[i],
        )

    def doc_versions(self) -> dict[str, tuple[str, int]]:
        """doc_id -> (version, position) of each live document."""
        ids, versions = self.docs["doc_id"], self.docs["doc_version"]
        return {
            ids[d]: (versions[d], d)
            for d in range(self.doc_count)
            if self.dead_docs is None or not self.dead_docs[d]
        }


def doc_key(doc_id: str, version: str) -> str:
    return f"{doc_id}\x1f{version}"


def write_segment(folder: Path, rows: Sequence[ChunkRow], versions: dict[str, str]) -> None:
    """Tokenise ``rows`` (grouped by document) and write them as a new segment; ``versions`` gives
    each document's version (what tells a later sync that it changed)."""
    tokenized = bm25s.tokenize(
        [index_text(r.title, r.text) for r in rows],
        stopwords="en",
        stemmer=_STEMMER,
        return_ids=True,
        show_progress=False,
    )
    lengths = np.fromiter((len(ids) for ids in tokenized.ids), dtype=np.int64, count=len(rows))
    token_ids = np.fromiter(itertools.chain.from_iterable(tokenized.ids), dtype=np.int64, count=lengths.sum())
    vocab = sorted(tokenized.vocab, key=tokenized.vocab.__getitem__)
    term_hash_of_id = hashes(vocab)
    doc_rows = np.repeat(np.arange(len(rows), dtype=np.int64), lengths)
    width = max(len(vocab), 1)
    pairs, tf = np.unique(doc_rows * width + token_ids, return_counts=True)
    _write(
        folder,
        term_of_posting=term_hash_of_id[pairs % width] if len(pairs) else np.zeros(0, np.uint64),
        row_of_posting=pairs // width,
        tf=tf,
        chunk_len=lengths,
        rows=rows,
        versions=versions,
    )


def merge_segments(folder: Path, segments: Sequence[Segment]) -> None:
    """Write the live rows of ``segments`` (oldest first) as one segment, postings carried over."""
    terms, rows_out, tfs, lengths, chunk_rows, versions = [], [], [], [], [], {}
    base = 0
    for seg in segments:
        live = np.ones(seg.rows, bool) if seg.dead_rows is None else ~seg.dead_rows
        new_row = np.cumsum(live) - 1 + base
        counts = np.diff(np.asarray(seg.term_ptr))
        posting_term = np.repeat(np.asarray(seg.terms), counts)
        post_rows = np.asarray(seg.post_rows)
        keep = live[post_rows]
        terms.append(posting_term[keep])
        rows_out.append(new_row[post_rows[keep]])
        tfs.append(np.asarray(seg.post_tf)[keep])
        lengths.append(np.asarray(seg.chunk_len)[live])
        chunk_rows += [seg.row(i) for i in np.flatnonzero(live).tolist()]
        versions.update({doc_id: version for doc_id, (version, _) in seg.doc_versions().items()})
        base += int(live.sum())
    _write(
        folder,
        term_of_posting=np.concatenate(terms) if terms else np.zeros(0, np.uint64),
        row_of_posting=np.concatenate(rows_out) if rows_out else np.zeros(0, np.int64),
        tf=np.concatenate(tfs) if tfs else np.zeros(0, np.int64),
        chunk_len=np.concatenate(lengths) if lengths else np.zeros(0, np.int64),
        rows=chunk_rows,
        versions=versions,
    )


def _write(
    folder: Path,
    *,
    term_of_posting: np.ndarray,
    row_of_posting: np.ndarray,
    tf: np.ndarray,
    chunk_len: np.ndarray,
    rows: Sequence[ChunkRow],
    versions: dict[str, str],
) -> None:
    folder.mkdir(parents=True)
    order = np.lexsort((row_of_posting, term_of_posting))  # by term, then row
    sorted_terms = term_of_posting[order]
    terms, first = np.unique(sorted_terms, return_index=True)
    term_ptr = np.append(first, len(sorted_terms)).astype(np.int64)
    doc_index: dict[str, int] = {}
    doc_list: list[ChunkRow] = []
    for r in rows:
        if r.doc_id not in doc_index:
            doc_index[r.doc_id] = len(doc_list)
            doc_list.append(r)
    id_hash = hashes([r.chunk_id for r in rows])
    id_order = np.argsort(id_hash, kind="stable")
    arrays = {
        "terms": terms.astype(np.uint64),
        "term_ptr": term_ptr,
        "post_rows": row_of_posting[order].astype(np.int32),
        "post_tf": tf[order].astype(np.float32),
        "chunk_len": chunk_len.astype(np.float32),
        "starts": np.array([r.start for r in rows], dtype=np.int64),
        "ends": np.array([r.end for r in rows], dtype=np.int64),
        "doc_of": np.array([doc_index[r.doc_id] for r in rows], dtype=np.int32),
        "id_hash": id_hash[id_order],
        "id_row": id_order.astype(np.int32),
    }
    doc_versions = [versions.get(d.doc_id, "") for d in doc_list]
    arrays["doc_hash"] = hashes([d.doc_id for d in doc_list])
    arrays["doc_key"] = hashes([doc_key(d.doc_id, v) for d, v in zip(doc_list, doc_versions, strict=True)])
    for name, array in arrays.items():
        np.save(folder / f"{name}.npy", array)
    _write_packed(folder, "text", [r.text.encode("utf-8") for r in rows])
    _write_packed(folder, "chunk_id", [r.chunk_id.encode("utf-8") for r in rows])
    fields = {
        "doc_id": [d.doc_id for d in doc_list],
        "doc_version": doc_versions,
        "title": [d.title for d in doc_list],
        "source": [d.source for d in doc_list],
        "origin": [d.origin for d in doc_list],
    }
    for name, values in fields.items():
        _write_packed(folder, name, [v.encode("utf-8") for v in values])
