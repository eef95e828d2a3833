"""The small interfaces components meet through. Concrete adapters live beside this module."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from sleuth.tools.records import Passage


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: list[str]) -> np.ndarray:
        """Return an array of shape (len(texts), dim), float32, rows L2-normalised."""
        ...


@runtime_checkable
class SearchBackend(Protocol):
    """Anything that answers a text query with ranked passages (local hybrid search, web search)."""

    def search(self, query: str, k: int = 10) -> list[Passage]: ...


@runtime_checkable
class Reranker(Protocol):
    """Scores candidate passages against a query, after first-stage retrieval (higher is better)."""

    @property
    def name(self) -> str: ...

    def score(self, query: str, texts: list[str]) -> list[float]:
        """One relevance score per text, in the order given; raises a ``SleuthError`` (one-line reason)."""
        ...
