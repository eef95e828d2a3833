"""Which files an ingest of some paths reads: every supported file under them, once, and a one-line
reason for each named path or entry inside a folder that cannot be read. Never the end of the ingest."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from sleuth.tools.corpus.extract import SUPPORTED_SUFFIXES, kind_of, unsupported_reason


def iter_candidate_files(paths: list[Path]) -> Iterator[tuple[Path, str | None]]:
    """Yield ``(file, None)`` for each supported file under ``paths`` and ``(path, reason)`` for a
    named path, or an entry inside a folder, that cannot be ingested (unsupported types included).
    Folders are walked in sorted order, skipping hidden entries; a path is yielded once even when
    named twice."""
    seen: set[str] = set()
    for path in paths:
        # os.path answers False instead of raising on permission errors and symlink loops.
        if not os.path.exists(path):
            yield path, "broken symbolic link" if os.path.islink(path) else "does not exist"
        elif os.path.isdir(path):
            for found, reason in _walk_supported(path):
                if _first_sighting(found, seen):
                    yield found, reason
        elif _first_sighting(path, seen):
            yield path, None if kind_of(path) else unsupported_reason(path)


def _first_sighting(path: Path, seen: set[str]) -> bool:
    key = os.path.realpath(path)
    if key in seen:
        return False
    seen.add(key)
    return True


MAX_FOLDER_DEPTH = 64  # deeper folders are skipped with a reason (os.walk recursed until RecursionError)


def _walk_supported(folder: Path) -> Iterator[tuple[Path, str | None]]:
    """Supported files under ``folder`` in sorted order, iteratively: one bad entry (an unreadable
    folder, a symbolic link that loops or points nowhere, a folder nested too deep) is one skip."""
    stack = [(folder, 0)]
    while stack:
        current, depth = stack.pop()
        try:
            with os.scandir(current) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as e:
            yield current, f"cannot read folder: {e.strerror or e}"
            continue
        folders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                # follow_symlinks=False for folders: a symlinked folder pointing at an ancestor would loop
                if entry.is_dir(follow_symlinks=False):
                    folders.append(path)
                    continue
            except OSError as e:
                yield path, f"cannot read: {e.strerror or e}"
                continue
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                yield path, unsupported_reason(path)  # listed, never silently ignored
            elif entry.is_symlink() and not os.path.exists(path):  # exists() is False for a loop too
                yield path, "symbolic link that loops or points nowhere"
            else:
                yield path, None
        for sub in reversed(folders):  # popped in sorted order
            if depth + 1 >= MAX_FOLDER_DEPTH:
                yield sub, f"folder nested more than {MAX_FOLDER_DEPTH} levels deep; ingest it directly"
            else:
                stack.append((sub, depth + 1))
