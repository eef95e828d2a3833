"""One ranked list over local and web passages (a ``SearchBackend``).

Three rankings are fused by min-max normalised scores, as HybridSearch fuses two:
  - BM25 over the local snapshot (local documents only),
  - BM25 over the web snapshot (lexical-web/),
  - dense similarity over the shared Chroma collection (local and web chunks ranked together).
A chunk lives in one snapshot, so it collects one lexical and at most one dense contribution, and its
fused score is on the same scale as HybridSearch's: the graph's relevance cut-off applies unchanged.
BM25 scores come from each snapshot separately and are normalised per snapshot (the two have different
IDF statistics, so their raw scores are not comparable), which means the best web hit and the best
local hit both get the full lexical weight. The dense ranking is shared and decides between them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sleuth.tools.corpus.hybrid import score_fuse
from sleuth.tools.corpus.lexical import LexicalIndex
from sleuth.tools.corpus.local_corpus import LocalCorpus
from sleuth.tools.records import Origin, Passage
from sleuth.tools.web.web_corpus import WebCorpus, WebSnapshot

_Key = tuple[str, int]  # (origin, row in that origin's snapshot)


class MixedSearch:
    """``origins`` narrows the search to ("local",) or ("web",); ``depth`` is the candidates per ranking."""

    def __init__(
        self,
        local: LocalCorpus,
        web: WebCorpus | None,
        *,
        origins: Iterable[Origin] = ("local", "web"),
        depth: int = 100,
    ) -> None:
        self.local = local
        self.web = web
        self.origins = frozenset(origins)
        self.depth = depth

    def search(self, query: str, k: int = 10) -> list[Passage]:
        if not query.strip() or k <= 0:
            return []
        depth = max(self.depth, k)
        local_ix = self.local.lexical() if "local" in self.origins else None
        web = self.web.snapshot() if self.web is not None and "web" in self.origins else None
        if not (local_ix is not None and len(local_ix)) and not (web is not None and len(web.index)):
            return []
        rankings: list[tuple[str, list[tuple[_Key, float]]]] = []
        if local_ix is not None:
            rankings.append(("lexical", _lexical(local_ix, "local", query, depth)))
        if web is not None:
            rankings.append(("lexical", _lexical(web.index, "web", query, depth)))
        rankings.append(("dense", self._dense(query, depth, local_ix, web)))
        hits = score_fuse(rankings)[:k]
        return [self._passage(hit.key, local_ix, web, hit.scores()) for hit in hits]

    def get_passage(self, chunk_id: str) -> Passage | None:
        """A local or web passage by id (web passages carry their fetch time), for citation checks."""
        web = self.web.snapshot() if self.web is not None else None
        row = web.index.row_index(chunk_id) if web is not None else None
        if row is not None:
            return self._passage(("web", row), None, web, {})
        return self.local.get_passage(chunk_id)

    def _dense(
        self, query: str, depth: int, local_ix: LexicalIndex | None, web: WebSnapshot | None
    ) -> list[tuple[_Key, float]]:
        vector = self.local.embedder.embed([query])[0]
        nearest = self.local.vectors.query(vector, depth)
        keys = _locate([chunk_id for chunk_id, _ in nearest], local_ix, web)
        return [(key, similarity) for key, (_, similarity) in zip(keys, nearest, strict=True) if key]

    @staticmethod
    def _passage(
        key: _Key, local_ix: LexicalIndex | None, web: WebSnapshot | None, ranking: dict[str, Any]
    ) -> Passage:
        origin, row_index = key
        index = web.index if origin == "web" and web is not None else local_ix
        assert index is not None
        row = index.row(row_index)
        fetched_at = web.fetched_at.get(row.doc_id) if origin == "web" and web is not None else None
        return row.to_passage(**ranking, fetched_at=fetched_at)


def _lexical(index: LexicalIndex, origin: str, query: str, depth: int) -> list[tuple[_Key, float]]:
    """BM25 hits of one snapshot; the local snapshot may also hold web rows (after a full rebuild):
    those are skipped, the web snapshot answers for them."""
    ranked = []
    for row_index, score in index.search(query, depth):
        row = index.row(row_index)
        if row.origin == origin:
            ranked.append(((origin, row_index), score))
    return ranked


def _locate(
    chunk_ids: list[str], local_ix: LexicalIndex | None, web: WebSnapshot | None
) -> list[_Key | None]:
    """Where each chunk id is: a web snapshot row first, else a local row of a local document."""
    web_rows = web.index.row_indices(chunk_ids) if web is not None else [None] * len(chunk_ids)
    local_rows = local_ix.row_indices(chunk_ids) if local_ix is not None else [None] * len(chunk_ids)
    keys: list[_Key | None] = []
    for web_row, local_row in zip(web_rows, local_rows, strict=True):
        if web_row is not None:
            keys.append(("web", web_row))
        elif local_row is not None and local_ix is not None and local_ix.row(local_row).origin == "local":
            keys.append(("local", local_row))
        else:
            keys.append(None)
    return keys
