"""The installed distribution claims no global import name (``agents``, ``tools``, ``graphs``, ``prompts``,
``evals``): it installs under ``sleuth``, so it lives beside openai-agents, which owns ``agents``."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {
    "sleuth": "sleuth",
    "agents": "sleuth.agents",
    "graphs": "sleuth.graphs",
    "prompts": "sleuth.prompts",
}
FOLDERS["tools"] = "sleuth.tools"


def test_every_package_folder_is_installed_under_the_sleuth_namespace() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {namespaced: folder for folder, namespaced in FOLDERS.items()}
    expected = {
        ".".join([FOLDERS[init.relative_to(ROOT).parts[0]], *init.relative_to(ROOT).parts[1:-1]])
        for folder in FOLDERS
        for init in (ROOT / folder).rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert set(config["packages"]) == expected


def run(*args: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_sleuth_installs_beside_openai_agents_in_a_fresh_venv(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", str(venv), cwd=tmp_path)
    python = str(venv / "bin" / "python")
    run(python, "-m", "pip", "install", "--quiet", "--upgrade", "pip", cwd=tmp_path)
    run(python, "-m", "pip", "install", "--quiet", str(ROOT), "openai-agents", cwd=tmp_path)
    check = (
        "import agents, sleuth.agents.planner, sleuth.tools.corpus.extract, sleuth.graphs.research\n"
        "import sleuth.cli.main, sleuth.research_app\n"
        "from sleuth.prompts import load_prompt\n"
        "assert hasattr(agents, 'Agent') and hasattr(agents, 'Runner'), agents.__file__\n"
        "assert agents.__file__.endswith('site-packages/agents/__init__.py'), agents.__file__\n"
        "assert load_prompt('planner').id == 'planner@v2' and load_prompt('writer@v1').text\n"
        "import importlib.util as u\n"
        "assert all(u.find_spec(n) is None for n in ('tools', 'graphs', 'prompts', 'evals'))\n"
        "print('ok')\n"
    )
    assert run(python, "-c", check, cwd=tmp_path).strip() == "ok"
    assert "ingest" in run(str(venv / "bin" / "sleuth"), "--help", cwd=tmp_path)
    run(python, "-m", "pip", "uninstall", "--quiet", "-y", "openai-agents", cwd=tmp_path)
    assert run(python, "-c", "import sleuth.agents.planner; print('still here')", cwd=tmp_path).strip() == (
        "still here"
    )
