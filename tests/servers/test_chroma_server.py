"""The vector store setting on a real Chroma server (`chroma run` on loopback): ingest, search, status,
doctor and reindex work on it, and two corpora on one server keep their own collections."""

from __future__ import annotations

import json
from pathlib import Path

import chromadb
import pytest
from typer.testing import CliRunner

from sleuth.cli.main import app
from tests.servers.postgres import free_port

runner = CliRunner()


def sleuth(env: dict[str, str], *args: str):  # type: ignore[no-untyped-def]
    result = CliRunner(env=env).invoke(app, list(args))
    return result


@pytest.fixture
def server_env(chroma_server: tuple[str, int], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    host, port = chroma_server
    monkeypatch.setenv("SLEUTH_CHROMA_HOST", host)
    monkeypatch.setenv("SLEUTH_CHROMA_PORT", str(port))
    return {"SLEUTH_CHROMA_HOST": host, "SLEUTH_CHROMA_PORT": str(port)}


def write_docs(folder: Path, docs: dict[str, str]) -> Path:
    folder.mkdir(parents=True)
    for name, text in docs.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_ingest_search_doctor_and_reindex_on_a_chroma_server(
    server_env: dict[str, str],
    chroma_server: tuple[str, int],
    tmp_path: Path,
) -> None:
    data = tmp_path / "corpus-a"
    docs = write_docs(
        tmp_path / "docs-a",
        {"lighthouse.md": "# Lighthouses\n\nThe Fresnel lens focuses a lighthouse beam.\n"},
    )
    ingested = sleuth(server_env, "ingest", str(docs), "--data-dir", str(data))
    assert ingested.exit_code == 0 and "1 added" in ingested.stdout, ingested.output
    assert not (data / "chroma").exists()  # the vectors are on the server
    found = sleuth(server_env, "search", "Fresnel lens", "--json", "--data-dir", str(data))
    assert [p["title"] for p in json.loads(found.stdout)] == ["Lighthouses"]
    status = sleuth(server_env, "status", "--data-dir", str(data))
    assert f"http://127.0.0.1:{chroma_server[1]}" in status.stdout and "collection sleuth-" in status.stdout

    client = chromadb.HttpClient(host=chroma_server[0], port=chroma_server[1])
    name = next(c.name for c in client.list_collections() if c.name.startswith("sleuth-"))
    collection = client.get_collection(name)
    collection.delete(ids=collection.get(include=[])["ids"])  # vectors lost on the server
    repaired = sleuth(server_env, "doctor", "--data-dir", str(data))
    assert repaired.exit_code == 0 and "Repaired" in repaired.stdout, repaired.output
    assert collection.count() == 1
    reindexed = sleuth(server_env, "reindex", "--data-dir", str(data))
    assert reindexed.exit_code == 0 and "Re-embedded 1 chunks" in reindexed.stdout, reindexed.output
    assert client.get_collection(name).count() == 1


def test_two_corpora_on_one_server_keep_their_own_collections(
    server_env: dict[str, str],
    chroma_server: tuple[str, int],
    tmp_path: Path,
) -> None:
    a = write_docs(
        tmp_path / "docs-a", {"tides.md": "# Tides\n\nSpring tides follow the new and full moon.\n"}
    )
    b = write_docs(tmp_path / "docs-b", {"bees.md": "# Bees\n\nHoneybees dance to show where nectar is.\n"})
    for docs, data in ((a, tmp_path / "a"), (b, tmp_path / "b")):
        assert sleuth(server_env, "ingest", str(docs), "--data-dir", str(data)).exit_code == 0
    for data, query, title, other in (
        (tmp_path / "a", "moon tides", "Tides", "Bees"),
        (tmp_path / "b", "honeybee dance", "Bees", "Tides"),
    ):
        found = json.loads(
            sleuth(server_env, "search", query, "--json", "-k", "5", "--data-dir", str(data)).stdout
        )
        titles = {p["title"] for p in found}
        assert title in titles and other not in titles
    named = sleuth(
        {**server_env, "SLEUTH_CHROMA_COLLECTION": "team-notes"},
        "ingest",
        str(a),
        "--data-dir",
        str(tmp_path / "c"),
    )
    assert named.exit_code == 0
    client = chromadb.HttpClient(host=chroma_server[0], port=chroma_server[1])
    assert client.get_collection("team-notes").count() == 1


def test_an_unreachable_chroma_server_is_one_line(tmp_path: Path) -> None:
    env = {"SLEUTH_CHROMA_HOST": "127.0.0.1", "SLEUTH_CHROMA_PORT": str(free_port())}
    for command in (["search", "anything"], ["doctor"], ["status"]):
        result = sleuth(env, *command, "--data-dir", str(tmp_path / "d"))
        assert result.exit_code == 1, result.output
        assert "cannot reach the Chroma server at http://127.0.0.1:" in result.stderr
        assert "Traceback" not in result.output
