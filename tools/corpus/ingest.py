"""Ingestion: files → extracted text → chunks → DuckDB (pending) → vectors in Chroma → indexed.

Documents are embedded in groups so small files share batches; each group is written to DuckDB
first (status ``pending``), then to Chroma, then marked ``indexed`` — a crash anywhere leaves state
that ``LocalCorpus.check_consistency`` repairs. One ingest per data directory at a time (a file lock).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import structlog
from filelock import FileLock, Timeout

from sleuth.tools.corpus.chunking import chunk_text
from sleuth.tools.corpus.discover import iter_candidate_files
from sleuth.tools.corpus.extract import extract_file
from sleuth.tools.corpus.lexical import snapshot_generation
from sleuth.tools.corpus.local_corpus import LocalCorpus
from sleuth.tools.corpus.store import NewDocument, utcnow
from sleuth.tools.errors import ExtractError, StoreBusy, StoreError
from sleuth.tools.records import content_hash, short_id

log = structlog.get_logger(__name__)

GROUP_CHUNKS = 256  # chunks per embedding group: big enough for full batches, small enough to show progress

ProgressFn = Callable[[str, dict], None]


@dataclass
class IngestOptions:
    """How files become chunks; built from Settings (sleuth/wiring.py), which owns the defaults."""

    max_chars: int
    overlap_chars: int
    max_bytes: int
    prune: bool = False


@dataclass
class IngestReport:
    ingest_id: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    pruned: int = 0
    chunks: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # read, but worth saying how (an encoding)
    repaired: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": len(self.skipped),
            "pruned": self.pruned,
            "chunks": self.chunks,
        }


def doc_id_for(path: Path) -> str:
    return short_id("local", str(path))


def _lock(data_dir: Path) -> FileLock:
    lock = FileLock(str(data_dir / "ingest.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout as e:
        holder = (data_dir / "ingest.pid").read_text().strip() if (data_dir / "ingest.pid").exists() else "?"
        raise StoreBusy(
            f"another `sleuth ingest` (pid {holder}) is writing to {data_dir}; wait for it to finish and retry"
        ) from e
    (data_dir / "ingest.pid").write_text(str(os.getpid()))
    return lock


def ingest_paths(
    corpus: LocalCorpus, paths: list[Path], options: IngestOptions, progress: ProgressFn | None = None
) -> IngestReport:
    notify = progress or (lambda event, fields: None)
    started, t0 = utcnow(), time.perf_counter()
    report = IngestReport(ingest_id=uuid.uuid4().hex[:12])
    lock = _lock(corpus.data_dir)
    status = "failed"
    try:
        report.repaired = corpus.check_consistency(
            full=False, progress=lambda done: notify("embedded", {"chunks": done})
        )
        _ingest(corpus, paths, options, report, notify)
        if options.prune:
            report.pruned = _prune(corpus)
        if snapshot_generation(corpus.lexical_path) != corpus.store.generation():
            notify("index", {})
            corpus.sync_lexical()
        status = "completed"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except (OSError, duckdb.Error) as e:  # a full disk, a read-only folder: one line, earlier data intact
        raise StoreError(
            f"ingest stopped: {getattr(e, 'strerror', None) or e}; what was added before is intact"
        ) from e
    finally:
        report.seconds = time.perf_counter() - t0
        try:
            corpus.store.record_skips(report.ingest_id, report.skipped)
            corpus.store.record_ingest(report.ingest_id, started, report.counts(), status)
        except (OSError, duckdb.Error, StoreError) as e:  # the same full disk: the reason above is the one
            log.warning("ingest.record_failed", error=str(e))
        (corpus.data_dir / "ingest.pid").unlink(missing_ok=True)  # a stale pid would name a finished ingest
        lock.release()
        log.info("ingest.finished", status=status, seconds=round(report.seconds, 2), **report.counts())
    return report


def _ingest(
    corpus: LocalCorpus, paths: list[Path], options: IngestOptions, report: IngestReport, notify: ProgressFn
) -> None:
    candidates = list(iter_candidate_files(paths))
    notify("scan", {"total": len(candidates)})
    known = corpus.store.documents()
    group: list[NewDocument] = []
    for path, reason in candidates:
        notify("file", {"path": str(path)})
        if reason is not None:
            _skip(report, path, reason)
            continue
        path = path.resolve()
        try:
            extracted = extract_file(path, max_bytes=options.max_bytes)
        except ExtractError as e:
            _skip(report, path, str(e))
            continue
        if "encoding" in extracted.meta:
            report.notes.append((str(path), f"not UTF-8: read as {extracted.meta['encoding']}"))
        doc_id = doc_id_for(path)
        previous = known.get(doc_id)
        if previous is not None and previous.raw_hash == extracted.raw_hash and previous.status == "indexed":
            report.unchanged += 1
            continue
        chunks = chunk_text(
            doc_id, extracted.text, max_chars=options.max_chars, overlap_chars=options.overlap_chars
        )
        group.append(
            NewDocument(
                doc_id=doc_id,
                source=str(path),
                title=extracted.title,
                kind=extracted.kind,
                raw_hash=extracted.raw_hash,
                content_hash=content_hash(extracted.text),
                text=extracted.text,
                chunks=chunks,
            )
        )
        notify("chunked", {"chunks": len(chunks)})
        if previous is None:
            report.added += 1
        else:
            report.updated += 1
        if sum(len(d.chunks) for d in group) >= GROUP_CHUNKS:
            _flush(corpus, group, report, notify)
    _flush(corpus, group, report, notify)


def _flush(corpus: LocalCorpus, group: list[NewDocument], report: IngestReport, notify: ProgressFn) -> None:
    if not group:
        return
    corpus.store.write_pending(group)
    n = corpus.embed_documents([d.doc_id for d in group], lambda done: notify("embedded", {"chunks": done}))
    report.chunks += n
    log.info("ingest.group_indexed", documents=len(group), chunks=n)
    group.clear()


def _skip(report: IngestReport, path: Path, reason: str) -> None:
    report.skipped.append((str(path), reason))
    log.warning("ingest.skipped", path=str(path), reason=reason)


def _prune(corpus: LocalCorpus) -> int:
    documents = corpus.store.documents().values()
    gone = [d.doc_id for d in documents if d.origin == "local" and not Path(d.source).exists()]
    if gone:
        corpus.store.delete_documents(gone)
        corpus.vectors.delete_documents(gone)
        log.info("ingest.pruned", documents=len(gone))
    return len(gone)
