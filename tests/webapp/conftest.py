"""A served data dir for the web app's tests: the sample corpus, a hostile document and a scheduled job
with two runs, built once per module (the server starts in a few seconds; ingesting takes longer)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sleuth.cli.main import app
from sleuth.settings import load_settings
from sleuth.wiring import ingest_paths
from tests.graph.sample_corpus import private_copy, sample_data_dir  # noqa: F401  (session fixture)

HOSTILE_QUESTION = "How often does the Zanzibar beacon protocol send a heartbeat?"
# No "=" in the first one: the offline writer quotes no sentence with one (a formula), and this one must be
# quoted, so that markup in a claim is tested too. Run, each would add the class "pwned" to the page.
HOSTILE_MARKUP = (
    '<script>document.body.classList.add("pwned")</script>',
    '<img src="x" onerror="document.body.classList.add(\'pwned\')">',
    "<a href=\"javascript:document.body.classList.add('pwned')\">beacon console</a>",
)
HOSTILE_DOCUMENT = (
    "# Zanzibar beacon protocol\n\n"
    f"The Zanzibar beacon protocol sends a heartbeat every 40 seconds {HOSTILE_MARKUP[0]} to each peer. "
    f"Operators watch the heartbeat {HOSTILE_MARKUP[1]} in the {HOSTILE_MARKUP[2]} of the beacon.\n\n"
    + "A beacon log line without end " * 4000  # one 120,000-character line
    + "\n"
)


@pytest.fixture(scope="module")
def served_dir(
    sample_data_dir: Path,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
    model_cache_dir: Path,
) -> Path:
    root = tmp_path_factory.mktemp("served")
    settings = private_copy(sample_data_dir, root / "data", model_cache_dir=model_cache_dir)
    docs = root / "docs"
    docs.mkdir()
    (docs / "zanzibar-beacon.md").write_text(HOSTILE_DOCUMENT, encoding="utf-8")
    report = ingest_paths(settings, [docs])
    assert report.added == 1 and not report.skipped
    return settings.data_dir


def run_schedule_twice(data_dir: Path, model_cache_dir: Path) -> None:
    """A job with two runs, so the schedules page has a history and a "what changed" to show."""
    env = {"SLEUTH_DATA_DIR": str(data_dir), "SLEUTH_MODEL_CACHE_DIR": str(model_cache_dir)}
    runner = CliRunner(env=env)
    added = runner.invoke(app, ["schedule", "add", "weekly-hyde", "What is HyDE?", "--cron", "0 7 * * 1"])
    assert added.exit_code == 0, added.output
    for _ in range(2):
        ran = runner.invoke(app, ["schedule", "run", "weekly-hyde"])
        assert ran.exit_code == 0, ran.output
    assert load_settings(data_dir=data_dir).duckdb_path.exists()
