"""`sleuth ingest` / `sleuth search` end to end on real DuckDB, Chroma and BM25 files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sleuth.cli.main import app
from sleuth.settings import load_settings
from sleuth.tools.db.connection import open_duckdb
from sleuth.wiring import SAMPLE_CORPUS, ingest_paths, open_corpus
from tests.fixtures.pdfs import encrypted_pdf, minimal_pdf

runner = CliRunner()


def sleuth(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_sample_corpus_ingest_and_search_finds_the_right_note() -> None:
    code, out = sleuth("ingest", "--sample")
    assert code == 0, out
    n_docs = len(list(SAMPLE_CORPUS.glob("*.md")))
    assert f"{n_docs} added" in out and "0 skipped" in out

    code, out = sleuth("search", "reciprocal rank fusion of BM25 and dense rankings", "-k", "3", "--json")
    assert code == 0, out
    passages = json.loads(out)
    assert len(passages) == 3
    assert "rank fusion" in passages[0]["title"].lower()
    # every span resolves into the stored document text
    corpus = open_corpus(load_settings())
    for p in passages:
        assert corpus.document_text(p["doc_id"])[p["start"] : p["end"]] == p["text"]
        assert Path(p["source"]).is_file()

    code, out = sleuth("search", "zygomorphic", "-k", "5")
    assert code == 0 and out.startswith("No passage matches “zygomorphic”"), out
    code, out = sleuth("search", "zygomorphic", "--json")
    assert code == 0 and json.loads(out) == []

    code, out = sleuth("search", "how do cross-encoders rerank candidates")
    assert code == 0 and "[1]" in out and "cross-encoder" in out.lower()


def test_reingest_unchanged_is_a_no_op_and_a_changed_file_replaces_its_chunks(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    a = write(docs / "a.md", "# Zebra facts\n\nThe quagga was a subspecies of plains zebra.\n")
    write(docs / "b.txt", "Okapis are forest giraffes found in the Congo basin.\n")
    settings = load_settings()
    first = ingest_paths(settings, [docs])
    assert (first.added, first.unchanged) == (2, 0)
    chunks_before = open_corpus(settings).store.stats()["chunks"]

    again = ingest_paths(settings, [docs])
    assert (again.added, again.updated, again.unchanged, again.chunks) == (0, 0, 2, 0)
    corpus = open_corpus(settings)
    assert corpus.store.stats()["chunks"] == chunks_before == corpus.vectors.count()

    write(a, "# Zebra facts\n\nGrevy's zebra has narrow stripes and lives in Kenya.\n")
    changed = ingest_paths(settings, [docs])
    assert (changed.updated, changed.unchanged) == (1, 1)
    corpus = open_corpus(settings)
    assert corpus.vectors.count() == corpus.store.stats()["chunks"]
    hits = corpus.search("quagga subspecies", k=5)
    assert all("quagga" not in h.text for h in hits)
    assert "Grevy" in corpus.search("Grevy's zebra stripes Kenya", k=1)[0].text


def test_adding_and_changing_files_updates_the_lexical_index_in_place_with_rebuild_rankings(
    tmp_path: Path,
) -> None:
    settings = load_settings()
    ingest_paths(settings, [SAMPLE_CORPUS])
    first_segment = open_corpus(settings).lexical().segments[0].folder
    first_written = (first_segment / "post_rows.npy").stat().st_mtime_ns
    docs = tmp_path / "docs"
    note = write(docs / "new.md", "# Fusion notes\n\nReciprocal rank fusion sums 1/(k+rank) over rankings.\n")
    ingest_paths(settings, [docs])
    write(note, "# Fusion notes\n\nMin-max fusion rescales BM25 and cosine scores before summing them.\n")
    ingest_paths(settings, [docs])
    corpus = open_corpus(settings)
    index = corpus.lexical()
    assert len(index.segments) >= 2 and index.segments[0].folder == first_segment  # not rebuilt
    assert (first_segment / "post_rows.npy").stat().st_mtime_ns == first_written
    code, out = sleuth("status")
    assert code == 0 and f"{len(index)} chunks in {len(index.segments)} segment(s)" in out
    queries = ["reciprocal rank fusion", "min-max fusion rescales scores", "dense retrieval embeddings"]
    incremental = [[(p.chunk_id, round(p.score, 5)) for p in corpus.search(q, k=8)] for q in queries]
    assert "Min-max fusion" in corpus.search("min-max fusion rescales cosine", k=1)[0].text
    corpus.rebuild_lexical()
    rebuilt = open_corpus(settings)
    assert len(rebuilt.lexical().segments) == 1
    assert [[(p.chunk_id, round(p.score, 5)) for p in rebuilt.search(q, k=8)] for q in queries] == incremental


def test_prune_removes_documents_whose_files_are_gone(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    gone = write(docs / "gone.md", "# Temporary\n\nThis note about narwhals will be deleted.\n")
    write(docs / "stays.md", "# Permanent\n\nBelugas are white whales.\n")
    settings = load_settings()
    ingest_paths(settings, [docs])
    gone.unlink()
    assert ingest_paths(settings, [docs]).pruned == 0  # without --prune nothing is removed
    code, out = sleuth("ingest", str(docs), "--prune")
    assert code == 0 and "1 pruned" in out, out
    corpus = open_corpus(settings)
    assert corpus.store.stats()["documents"] == 1 and corpus.vectors.count() == corpus.store.stats()["chunks"]
    assert all("narwhal" not in h.text for h in corpus.search("narwhals", k=5))


def test_bad_inputs_are_skipped_with_one_line_reasons_and_the_rest_ingests(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    write(
        docs / "good.md", "# Good\n\nThe good note explains hybrid retrieval with sparse and dense signals.\n"
    )
    (docs / "corrupt.pdf").write_bytes(b"%PDF-1.4\n" + os.urandom(300))
    (docs / "locked.pdf").write_bytes(encrypted_pdf(minimal_pdf([["secret text"]]), user_password="pw"))
    (docs / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (docs / "empty.md").write_bytes(b"")
    with open(docs / "huge.txt", "wb") as f:
        f.truncate(200 * 1024 * 1024)  # sparse: instant, and must be refused by size without being read
    missing = tmp_path / "does-not-exist.md"

    code, out = sleuth("ingest", str(docs), str(missing))
    assert code == 0, out
    assert "1 added" in out and "6 skipped" in out
    reasons = {line.split("skipped", 1)[1].strip() for line in out.splitlines() if "skipped " in line}
    assert len(reasons) == 6
    expected = {
        "corrupt.pdf": "corrupt",
        "locked.pdf": "encrypted",
        "binary.txt": "binary",
        "empty.md": "empty",
        "huge.txt": "too large",
        "does-not-exist.md": "not exist",
    }
    for name, word in expected.items():
        assert any(name in r and word in r.lower() for r in reasons), (name, reasons)
    settings = load_settings()
    with open_duckdb(settings.duckdb_path) as con:
        recorded = con.execute("SELECT count(DISTINCT source) FROM skips").fetchone()[0]
    assert recorded == 6
    assert open_corpus(settings).search("hybrid retrieval sparse dense", k=1)[0].title == "Good"


def test_second_ingest_while_one_runs_is_told_busy(tmp_path: Path) -> None:
    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from filelock import FileLock; l = FileLock(sys.argv[1]); l.acquire(); "
            "print('ready', flush=True); sys.stdin.read()",
            str(settings.data_dir / "ingest.lock"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        write(tmp_path / "n.md", "# Note\n\ntext\n")
        code, out = sleuth("ingest", str(tmp_path / "n.md"))
        assert code == 1 and "another `sleuth ingest`" in out and "Traceback" not in out
    finally:
        holder.communicate("", timeout=10)


def test_interrupted_ingest_is_repaired_on_next_run(tmp_path: Path) -> None:
    """DuckDB written but Chroma not (process died between the two), plus a stray vector."""
    from sleuth.tools.corpus.chunking import chunk_text
    from sleuth.tools.corpus.store import NewDocument
    from sleuth.wiring import chunk_size

    settings = load_settings()
    corpus = open_corpus(settings)
    text = "# Lost\n\nA document whose vectors never reached the index before the crash.\n"
    chunks = chunk_text("lostdoc", text, **chunk_size())
    corpus.store.write_pending(
        [NewDocument("lostdoc", str(tmp_path / "lost.md"), "Lost", "markdown", "r", "h", text, chunks)]
    )
    corpus.vectors.add(["orphan"], corpus.embedder.embed(["stray"]), ["nodoc"])

    code, out = sleuth("doctor")
    assert code == 0 and "Repaired" in out, out
    corpus = open_corpus(settings)
    assert corpus.store.pending_doc_ids() == []
    assert corpus.vectors.ids() == {c.chunk_id for c in chunks}
    assert corpus.search("vectors never reached the index", k=1)[0].doc_id == "lostdoc"
    code, out = sleuth("doctor")
    assert "OK" in out


def test_empty_corpus_search_says_what_to_do() -> None:
    code, out = sleuth("search", "anything")
    assert code == 0 and "sleuth ingest --sample" in out


def test_installed_console_script_runs() -> None:
    exe = Path(sys.executable).with_name("sleuth")
    if not exe.exists():
        pytest.skip("package not installed into this environment (scripts/test.sh installs it)")
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "ingest" in out.stdout and "search" in out.stdout


@pytest.mark.slow
def test_kill_9_mid_ingest_then_rerun_leaves_a_consistent_complete_corpus(tmp_path: Path) -> None:
    docs = tmp_path / "many"
    for i in range(120):
        write(
            docs / f"note{i:03}.md", f"# Note {i}\n\n" + f"Paragraph about topic {i} and its details. " * 60
        )
    env = {**os.environ, "SLEUTH_DATA_DIR": str(load_settings().data_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sleuth", "-v", "--log-json", "ingest", str(docs)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    for line in proc.stderr:  # kill as soon as the first group is indexed: more groups are still to come
        if "ingest.group_indexed" in line:
            proc.kill()
            break
    proc.wait(timeout=30)
    assert proc.returncode == -9

    code, out = sleuth("ingest", str(docs))
    assert code == 0, out
    corpus = open_corpus(load_settings())
    stats = corpus.store.stats()
    assert stats["documents"] == 120 and stats["pending"] == 0
    assert corpus.vectors.ids() == corpus.store.indexed_chunk_ids()
    assert len(corpus.lexical()) == stats["chunks"]


def test_switching_embedding_model_is_refused_until_reindex(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fakes.embeddings_server import FAKE_DIM, serve_embeddings

    write(
        tmp_path / "docs" / "a.md",
        "# Tides\n\nTides are caused by the Moon's gravity acting on the oceans.\n",
    )
    assert sleuth("ingest", str(tmp_path / "docs"))[0] == 0
    with serve_embeddings() as server:
        monkeypatch.setenv("SLEUTH_EMBEDDING_PROVIDER", "openai")
        monkeypatch.setenv("SLEUTH_EMBEDDING_BASE_URL", server.url)
        monkeypatch.setenv("SLEUTH_EMBEDDING_MODEL", "fake-embed")
        code, out = sleuth("search", "tides")
        assert code == 1 and "Traceback" not in out
        assert (
            "all-MiniLM-L6-v2 (384-d)" in out
            and f"openai:fake-embed ({FAKE_DIM}-d)" in out
            and "sleuth reindex" in out
        )
        code, out = sleuth("reindex")
        assert code == 0 and "Re-embedded 1 chunks" in out, out
        code, out = sleuth("search", "Moon gravity oceans", "--json")
        assert code == 0 and json.loads(out)[0]["title"] == "Tides"
        assert f"openai:fake-embed ({FAKE_DIM}-d)" in sleuth("status")[1]


def test_a_symlink_loop_is_one_skip_and_unsupported_files_are_counted_by_type(tmp_path: Path) -> None:
    folder = tmp_path / "L"
    folder.mkdir()
    (folder / "a.md").symlink_to("b.md")
    (folder / "b.md").symlink_to("a.md")
    (folder / "ok.md").write_text("# Fine\n\nA readable note about reciprocal rank fusion.\n")
    for name in ("one.odt", "two.odt", "three.odt", "four.odt", "pic.png"):
        (folder / name).write_bytes(b"PK")
    (folder / "old.txt").write_bytes(
        "Notes on rank fusion, written on a café terminal in 1998.\n".encode("cp1252")
    )
    result = CliRunner().invoke(app, ["ingest", str(folder)])
    assert result.exit_code == 0, result.output
    assert "2 added" in result.output and "Traceback" not in result.output
    assert "old.txt: not UTF-8: read as cp1252" in result.output
    assert "a.md: symbolic link that loops or points nowhere" in result.output
    assert "4 file(s) of .odt (supported: " in result.output and "1 file(s) of .png" in result.output


@pytest.mark.parametrize("command", ["doctor", "reindex"])
def test_a_truncated_vector_index_is_rebuilt_from_the_database(tmp_path: Path, command: str) -> None:
    env = {**os.environ, "SLEUTH_DATA_DIR": str(tmp_path / "data")}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "sleuth", *args], env=env, capture_output=True, text=True
        )

    assert run("ingest", "--sample").returncode == 0
    index = tmp_path / "data" / "chroma" / "chroma.sqlite3"
    with index.open("r+b") as f:
        f.truncate(index.stat().st_size // 3)
    broken = run("search", "reciprocal rank fusion")
    assert broken.returncode == 1 and "`sleuth doctor` rebuilds it" in broken.stderr
    assert "Traceback" not in broken.stderr
    repaired = run(command)
    assert repaired.returncode == 0, repaired.stderr[-2000:]
    assert "Traceback" not in repaired.stderr
    found = run("search", "reciprocal rank fusion", "--json")
    assert found.returncode == 0 and "rank fusion" in json.loads(found.stdout)[0]["title"].lower()


DISK_FULL_DRIVER = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG, as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1])))
sys.argv = ["sleuth", "ingest", *sys.argv[2:]]
from sleuth.cli.main import app
app()
"""


def test_a_full_disk_during_ingest_is_one_line_and_earlier_data_stays(tmp_path: Path) -> None:
    env = {**os.environ, "SLEUTH_DATA_DIR": str(tmp_path / "data")}
    first = subprocess.run(
        [sys.executable, "-m", "sleuth", "ingest", str(SAMPLE_CORPUS / "bm25.md")],
        env=env,
        capture_output=True,
    )
    assert first.returncode == 0
    full = subprocess.run(
        [sys.executable, "-c", DISK_FULL_DRIVER, str(48 * 1024), str(SAMPLE_CORPUS)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert full.returncode == 1 and "Traceback" not in full.stderr, full.stderr[-3000:]
    assert full.stderr.strip().startswith("error: ") and len(full.stderr.strip().splitlines()) == 1
    assert not list((tmp_path / "data").glob("lexical.tmp*"))
    found = subprocess.run(
        [sys.executable, "-m", "sleuth", "search", "BM25 term frequency saturation", "--json"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert found.returncode == 0 and json.loads(found.stdout)[0]["title"].startswith("BM25")


class CountingEmbedder:
    """An ``Embedder`` (the Protocol's own contract) that remembers how many texts each call carried."""

    name, dim = "counting-test-embedder", 8

    def __init__(self) -> None:
        self.calls: list[int] = []

    def embed(self, texts: list[str]):  # type: ignore[no-untyped-def]
        import numpy as np

        self.calls.append(len(texts))
        rows = np.array([[(hash(t) >> s) & 0xFF for s in range(0, 64, 8)] for t in texts], dtype=np.float32)
        return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)


def test_a_huge_one_line_file_is_embedded_in_bounded_slices_with_progress_per_chunk(tmp_path: Path) -> None:
    from sleuth.tools.corpus.ingest import ingest_paths as ingest_with
    from sleuth.tools.corpus.local_corpus import EMBED_SLICE, LocalCorpus
    from sleuth.wiring import ingest_options

    huge = tmp_path / "huge.txt"
    huge.write_text(("lorem ipsum dolor sit amet " * 40_000).strip())  # ~1 MB, no newline at all
    embedder = CountingEmbedder()
    corpus = LocalCorpus(tmp_path / "data", embedder)
    events: list[tuple[str, dict]] = []
    report = ingest_with(corpus, [huge], ingest_options(load_settings()), lambda e, f: events.append((e, f)))
    chunked = sum(f["chunks"] for e, f in events if e == "chunked")
    embedded = [f["chunks"] for e, f in events if e == "embedded"]
    assert report.chunks == chunked > 2 * EMBED_SLICE
    assert sum(embedded) == chunked and len(embedded) >= 3  # progress as the file's chunks go in
    assert max(embedder.calls) <= EMBED_SLICE  # memory bounded by the slice, not by the file


def read_only_reader(database: Path) -> subprocess.Popen:
    """Another process with the database open read-only (as `duckdb -readonly sleuth.duckdb` left open in
    another terminal), until its stdin closes."""
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys\nc = duckdb.connect({str(database)!r}, read_only=True)\n"
            "print('ready', flush=True)\nsys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout.readline().strip() == "ready"
    return reader


def test_search_and_status_work_beside_another_reader_of_the_database(tmp_path: Path) -> None:
    env = {**os.environ, "SLEUTH_DATA_DIR": str(tmp_path / "data")}
    assert subprocess.run([sys.executable, "-m", "sleuth", "ingest", "--sample"], env=env).returncode == 0
    database = tmp_path / "data" / "sleuth.duckdb"
    reader = read_only_reader(database)
    try:
        for args in (["search", "reciprocal rank fusion", "--json"], ["status"]):
            done = subprocess.run(
                [sys.executable, "-m", "sleuth", *args], env=env, capture_output=True, text=True
            )
            assert done.returncode == 0, done.stderr[-2000:]
            if args[0] == "search":  # a search process leaves without teardown: its output is whole
                assert "rank fusion" in json.loads(done.stdout)[0]["title"].lower()
        writer = subprocess.run(
            [sys.executable, "-m", "sleuth", "ingest", str(SAMPLE_CORPUS / "bm25.md")],
            env=env,
            capture_output=True,
            text=True,
        )
        assert writer.returncode == 1 and f"(pid {reader.pid}: " in writer.stderr  # the holder is named
    finally:
        reader.communicate("", timeout=10)


def test_research_works_beside_another_reader_and_its_run_record_is_kept_for_later(tmp_path: Path) -> None:
    from sleuth.tools.db.runs import RunLog

    env = {**os.environ, "SLEUTH_DATA_DIR": str(tmp_path / "data")}
    assert subprocess.run([sys.executable, "-m", "sleuth", "ingest", "--sample"], env=env).returncode == 0
    database = tmp_path / "data" / "sleuth.duckdb"
    reader = read_only_reader(database)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "sleuth", "research", "What is BM25?", "--thread", "beside-a-reader"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "BM25" in done.stdout and (tmp_path / "data" / "runs-pending.jsonl").exists()
    finally:
        reader.communicate("", timeout=10)
    run = RunLog(database).get("beside-a-reader")  # the next open that can write keeps the record
    assert run is not None and run["status"] == "completed" and run["report_path"]
    assert not (tmp_path / "data" / "runs-pending.jsonl").exists()


def test_search_rerank_endpoint_reorders_by_the_services_scores_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.fakes.rerank_server import serve_rerank

    code, out = sleuth("ingest", "--sample")
    assert code == 0, out
    query = "reciprocal rank fusion of BM25 and dense rankings"
    code, out = sleuth("search", query, "-k", "3", "--json")
    fused = [p["chunk_id"] for p in json.loads(out)]

    def prefers_hyde(_query: str, text: str) -> float:  # a "cross-encoder" with one obsession
        return 1.0 if "HyDE" in text else 0.0

    with serve_rerank(prefers_hyde) as server:
        monkeypatch.setenv("SLEUTH_RERANK_BASE_URL", server.url)
        code, out = sleuth("search", query, "-k", "3", "--json", "--rerank", "endpoint")
        assert code == 0, out
        reranked = json.loads(out)
        code, text_out = sleuth("search", query, "-k", "3", "--rerank", "endpoint")
    assert len(server.requests) == 2 and len(server.requests[0]["documents"]) == 20  # rerank_depth
    assert "HyDE" in reranked[0]["text"] and reranked[0]["rerank_score"] == 1.0
    assert [p["chunk_id"] for p in reranked] != fused
    assert reranked[0]["score"] >= reranked[1]["score"] >= reranked[2]["score"]  # places keep their scores
    assert "rerank 1.000" in text_out

    code, out = sleuth("search", query, "--rerank", "llm")
    assert code == 1 and "needs an LLM" in out and len(out.strip().splitlines()) == 1
    code, out = sleuth("search", query, "--rerank", "cohere")
    assert code == 1 and "--rerank must be none, llm or endpoint" in out


def test_a_damaged_bm25_index_is_one_line_then_doctor_or_the_next_ingest_rebuilds_it(tmp_path: Path) -> None:
    settings = load_settings()
    ingest_paths(settings, [SAMPLE_CORPUS])
    segment = open_corpus(settings).lexical().segments[0].folder
    (segment / "post_tf.npy").unlink()
    code, out = sleuth("search", "reciprocal rank fusion")
    assert code == 1 and "is damaged" in out and "`sleuth doctor` rebuilds it" in out
    assert len(out.strip().splitlines()) == 1
    code, out = sleuth("doctor")
    assert code == 0, out
    code, out = sleuth("search", "reciprocal rank fusion", "--json")
    assert code == 0 and json.loads(out)

    (open_corpus(settings).lexical().segments[0].folder / "terms.npy").write_bytes(b"not numpy")
    docs = tmp_path / "docs"
    write(docs / "new.md", "# Okapi\n\nOkapis are forest giraffes.\n")
    ingest_paths(settings, [docs])  # the store moved on: the sync finds the index damaged and rebuilds it
    assert "Okapis" in open_corpus(settings).search("okapi forest giraffe", k=1)[0].text
