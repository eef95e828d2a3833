"""Sleuth's error tree. Adapters translate library errors into these with ``raise ... from e``.

SleuthError
├── ConfigError            bad or missing configuration
├── ToolError              an adapter failed at an I/O boundary
│   ├── ExtractError       a file or page could not be turned into text (carries a one-line reason)
│   ├── FetchError         a web fetch failed or was refused
│   ├── SearchError        a search backend failed
│   └── StoreError         DuckDB / Chroma trouble
│       ├── StoreBusy      another sleuth process holds the data directory
│       └── EmbeddingMismatch  the vector collection was built with another embedding model
├── ModelError             an LLM call failed
│   └── OutputInvalid      structured output did not validate (after the one repair attempt)
└── BudgetExceeded         a run hit one of its hard budgets
"""

from __future__ import annotations


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


class StoreError(ToolError):
    pass


class StoreBusy(StoreError):
    pass


class EmbeddingMismatch(StoreError):
    pass


class ModelError(SleuthError):
    pass


class OutputInvalid(ModelError):
    pass


class BudgetExceeded(SleuthError):
    pass
