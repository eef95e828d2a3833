"""Value records shared by every layer. Ids derive from content hashes so dedupe and citation
numbering are deterministic across runs."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Origin = Literal["local", "web"]


def content_hash(data: str | bytes) -> str:
    """Full sha256 hex digest of text (utf-8) or bytes."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


def short_id(*parts: str, length: int = 16) -> str:
    """A stable id from the given parts (sha256 prefix)."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:length]


@dataclass(frozen=True)
class Chunk:
    """A span of a document's extracted text: ``document_text[start:end] == text``."""

    chunk_id: str
    doc_id: str
    ordinal: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its provenance and the scores that ranked it.

    ``source`` is the file path for local documents and the URL for web pages; ``start``/``end`` are
    character offsets into the document's extracted text.
    """

    chunk_id: str
    doc_id: str
    title: str
    source: str
    start: int
    end: int
    text: str
    score: float
    origin: Origin = "local"
    lexical_score: float | None = None
    dense_score: float | None = None
    lexical_rank: int | None = None
    dense_rank: int | None = None
    rerank_score: float | None = None  # set when a reranker ordered it (agents/rerank.py)
    fetched_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
