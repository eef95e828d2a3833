"""Chroma's classes are decorated with ``overrides.override``, which at import time disassembles the
calling frame to find each base class and compares signatures: about 0.15-0.4 s of every cold start, a
quarter of a cold `sleuth search`. The check guards Chroma's own development, not our use of it, so before
Chroma is imported the decorator is replaced by one that only marks the method as an override (what
``EnforceOverrides`` looks for). The package's __init__ installs it; nothing else changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _mark_override(method: Any = None, **_checks: Any) -> Any:
    if method is None:  # used as @override(check_signature=...)
        return _mark_override
    method.__override__ = True
    return method


def install() -> None:
    try:
        import overrides  # Chroma's dependency, not ours: a Chroma without it needs nothing here
    except ImportError:
        return
    mark: Callable[..., Any] = _mark_override
    overrides.override = overrides.overrides = mark  # type: ignore[assignment]
