"""Imports flow one way: sleuth -> graphs -> agents -> tools. Only tools/ talks to I/O libraries.

The folders install as ``sleuth.<layer>`` (pyproject's package-dir), so a layer is named by the first two
parts of a module path: ``sleuth.agents.planner`` is in ``agents``; ``sleuth.wiring`` is in the shell.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["sleuth", "graphs", "agents", "tools"]  # each may import only the ones after it
NAMESPACED = {"graphs", "agents", "tools", "prompts"}  # installed as sleuth.<name>
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
    "sqlite3",
    "filelock",
    "psycopg",
}
PRODUCT_FOLDERS = ["sleuth", "graphs", "agents", "tools", "prompts"]
EVERY_FOLDER = [*PRODUCT_FOLDERS, "tests", "evals", "benchmarks"]


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def layer_of(module: str) -> str:
    """``sleuth.agents.planner`` -> "agents"; ``sleuth.cli.main`` -> "sleuth"; ``httpx`` -> "httpx"."""
    parts = module.split(".")
    if parts[0] == "sleuth" and len(parts) > 1 and parts[1] in NAMESPACED:
        return parts[1]
    return parts[0]


def python_files(folder: str) -> list[Path]:
    return [p for p in (ROOT / folder).rglob("*.py") if "sample_corpus" not in p.parts]


@pytest.mark.parametrize("layer", LAYERS)
def test_layer_imports_only_downward(layer: str) -> None:
    forbidden = set(LAYERS[: LAYERS.index(layer)]) | {"evals", "tests", "benchmarks"}
    if layer != "tools":
        forbidden |= IO_LIBRARIES
    if layer in ("agents", "tools"):
        forbidden.add("langgraph")
    offenders = {
        f"{path.relative_to(ROOT)} imports {module}"
        for path in python_files(layer)
        for module in imported_modules(path)
        if layer_of(module) in forbidden
    }
    assert not offenders, sorted(offenders)


@pytest.mark.parametrize("folder", EVERY_FOLDER)
def test_nothing_imports_the_folders_by_their_global_names(folder: str) -> None:
    """``import agents`` would find openai-agents (or nothing) once installed: always ``sleuth.agents``."""
    offenders = {
        f"{path.relative_to(ROOT)} imports {module}"
        for path in python_files(folder)
        for module in imported_modules(path)
        if module.split(".")[0] in NAMESPACED
    }
    assert not offenders, sorted(offenders)


def test_the_layers_are_the_packages_the_checks_walk() -> None:
    """A new top-level package folder must join a layer, or this test (and the checks above) miss it."""
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages <= {*PRODUCT_FOLDERS, "tests", "evals"}, sorted(packages)
