"""Imports flow one way: sleuth -> graphs -> agents -> tools. Only tools/ talks to I/O libraries."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["sleuth", "graphs", "agents", "tools"]  # each may import only the ones after it
IO_LIBRARIES = {
    "httpx",
    "httpcore",
    "duckdb",
    "chromadb",
    "trafilatura",
    "openai",
    "tenacity",
    "pypdf",
    "bm25s",
}


def imported_top_level_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", LAYERS)
def test_layer_imports_only_downward(layer: str) -> None:
    forbidden = set(LAYERS[: LAYERS.index(layer)]) | {"evals", "tests"}
    if layer != "tools":
        forbidden |= IO_LIBRARIES
    if layer in ("agents", "tools"):
        forbidden.add("langgraph")
    offenders = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in (ROOT / layer).rglob("*.py")
        for name in imported_top_level_names(path) & forbidden
    }
    assert not offenders, sorted(offenders)
