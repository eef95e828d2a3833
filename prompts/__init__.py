"""Prompt templates as files, one per node and version (``planner.v1.md``), loaded by name.

``load_prompt("planner")`` picks the highest version present; ``load_prompt("planner@v1")`` pins one.
The returned ``Prompt.id`` ("planner@v1") is recorded with every LLM call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PROMPT_DIR = Path(__file__).resolve().parent
_FILE = re.compile(r"^(?P<name>[a-z_]+)\.v(?P<version>\d+)\.md$")


@dataclass(frozen=True)
class Prompt:
    id: str
    text: str


def available_prompts() -> dict[str, list[int]]:
    """Prompt name -> versions present, ascending."""
    found: dict[str, list[int]] = {}
    for path in PROMPT_DIR.glob("*.md"):
        match = _FILE.match(path.name)
        if match:
            found.setdefault(match["name"], []).append(int(match["version"]))
    return {name: sorted(versions) for name, versions in found.items()}


@lru_cache(maxsize=64)
def load_prompt(name: str) -> Prompt:
    """The prompt ``name`` (latest version) or ``name@vN`` (that version). KeyError if absent."""
    base, _, pinned = name.partition("@")
    versions = available_prompts().get(base)
    if not versions:
        raise KeyError(f"no prompt named {base!r} in {PROMPT_DIR}")
    version = int(pinned.removeprefix("v")) if pinned else versions[-1]
    path = PROMPT_DIR / f"{base}.v{version}.md"
    if not path.is_file():
        raise KeyError(f"prompt {base!r} has no version v{version} (have {versions})")
    return Prompt(id=f"{base}@v{version}", text=path.read_text(encoding="utf-8").strip())
