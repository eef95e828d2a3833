"""Sleuth's error tree. Adapters translate library errors into these with ``raise ... from e``.

SleuthError
├── ConfigError            bad or missing configuration
├── ToolError              an adapter failed at an I/O boundary
│   ├── ExtractError       a file or page could not be turned into text (carries a one-line reason)
│   ├── FetchError         a web fetch failed or was refused
│   ├── SearchError        a search backend failed
│   │   └── SearchUnavailable  it could not be reached or kept failing (5xx, 429, timeouts)
│   └── StoreError         DuckDB / Chroma trouble
│       ├── StoreBusy      another sleuth process holds the data directory
│       ├── VectorIndexUnreadable  the Chroma files are damaged (rebuildable from DuckDB: `sleuth doctor`)
│       └── EmbeddingMismatch  the vector collection was built with another embedding model
├── ModelError             an LLM call failed (the node's step fails; the run ends with a partial report)
│   ├── ModelUnavailable   the endpoint could not answer (down, timed out, overloaded, refused the key,
│   │                      no such model): the run stops, resumable once the endpoint or its setting is
│   │                      fixed
│   ├── OutputInvalid      structured output did not validate (after the one repair attempt)
│   └── LogprobsUnsupported  the endpoint returns no token log-probabilities (first-token scoring)
└── BudgetExceeded         a run hit one of its hard budgets
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class SleuthError(Exception):
    """Base of every error Sleuth raises on purpose. ``str(err)`` is a one-line reason for the user."""


class ConfigError(SleuthError):
    pass


class ToolError(SleuthError):
    pass


class ExtractError(ToolError):
    pass


class FetchError(ToolError):
    pass


class SearchError(ToolError):
    pass


class SearchUnavailable(SearchError):
    pass


class StoreError(ToolError):
    pass


class StoreBusy(StoreError):
    pass


class VectorIndexUnreadable(StoreError):
    pass


class EmbeddingMismatch(StoreError):
    pass


class ModelError(SleuthError):
    pass


class ModelUnavailable(ModelError):
    pass


class OutputInvalid(ModelError):
    """``usage``: the records of the model calls made before giving up (the repair included)."""

    def __init__(self, reason: str, usage: Sequence[Mapping[str, Any]] = ()) -> None:
        super().__init__(reason)
        self.usage = [dict(record) for record in usage]


class BudgetExceeded(SleuthError):
    """``reason`` says which budget ran out; ``usage``: the records of this node's calls made before."""

    def __init__(self, reason: str, usage: Sequence[Mapping[str, Any]] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.usage = [dict(record) for record in usage]


class LogprobsUnsupported(ModelError):
    pass
