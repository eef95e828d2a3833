"""Loaders for the fixed public evaluation sets (BEIR SciFact, HotpotQA dev distractor sample).

The data lives beside the project (``../shared/data``), never inside it; every loader records the
sha256 of the files it read so a result can say exactly which data produced it.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"
SCIFACT_DIR = "beir_scifact"
HOTPOTQA_DIR = "hotpotqa_dev_distractor_500"
HOTPOTQA_FILE = "hotpotqa_dev_distractor_500.jsonl.gz"
WHERE_TO_GET = {
    SCIFACT_DIR: "BEIR SciFact: https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/scifact.zip "
    "(unzip it into <data-dir>/beir_scifact/, gzip corpus.jsonl)",
    HOTPOTQA_DIR: "HotpotQA dev distractor 500-question sample in IRCoT format (stonybrooknlp/ircot "
    "processed_data/hotpotqa); see evals/README.md",
}


class DatasetNotFound(FileNotFoundError):
    """A dataset folder or file is missing; the message says where to get it."""


@dataclass(frozen=True)
class EvalDoc:
    doc_id: str
    title: str
    text: str


@dataclass
class RetrievalSet:
    """A corpus, queries and graded judgments (qrels: query id -> {doc id: grade})."""

    name: str
    docs: list[EvalDoc]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    sha256: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HotpotQuestion:
    question_id: str
    question: str
    answer: str
    gold_doc_ids: tuple[str, ...]


@dataclass
class HotpotSet:
    docs: list[EvalDoc]
    questions: list[HotpotQuestion]
    sha256: dict[str, str] = field(default_factory=dict)


def resolve_data_dir(data_dir: Path | None) -> Path:
    return Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _require(folder: Path, names: list[str], dataset: str) -> None:
    for name in names:
        if not (folder / name).is_file():
            raise DatasetNotFound(
                f"dataset not found: {folder / name} is missing; get it from {WHERE_TO_GET[dataset]}"
            )


def _jsonl(path: Path) -> Iterator[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def load_scifact(data_dir: Path | None = None, split: str = "test") -> RetrievalSet:
    folder = resolve_data_dir(data_dir) / SCIFACT_DIR
    qrels_name = f"qrels/{split}.tsv"
    _require(folder, ["corpus.jsonl.gz", "queries.jsonl", qrels_name], SCIFACT_DIR)
    docs = [
        EvalDoc(str(d["_id"]), d.get("title", ""), d.get("text", ""))
        for d in _jsonl(folder / "corpus.jsonl.gz")
    ]
    qrels: dict[str, dict[str, int]] = {}
    with (folder / qrels_name).open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    queries = {str(q["_id"]): q["text"] for q in _jsonl(folder / "queries.jsonl") if str(q["_id"]) in qrels}
    sha = {name: file_sha256(folder / name) for name in ["corpus.jsonl.gz", "queries.jsonl", qrels_name]}
    return RetrievalSet(f"scifact-{split}", docs, queries, qrels, sha)


def corpus_sha256(docs: list[EvalDoc]) -> str:
    """A checksum of the corpus content itself (used to key the cached index)."""
    digest = hashlib.sha256()
    for d in docs:
        digest.update("\x1f".join((d.doc_id, d.title, d.text)).encode("utf-8") + b"\x1e")
    return digest.hexdigest()


def load_hotpotqa(data_dir: Path | None = None) -> HotpotSet:
    """The 500 questions and their pooled paragraphs; identical (title, text) paragraphs share one doc."""
    folder = resolve_data_dir(data_dir) / HOTPOTQA_DIR
    _require(folder, [HOTPOTQA_FILE], HOTPOTQA_DIR)
    docs: dict[tuple[str, str], EvalDoc] = {}
    questions: list[HotpotQuestion] = []
    for rec in _jsonl(folder / HOTPOTQA_FILE):
        gold: list[str] = []
        for ctx in rec["contexts"]:
            key = (ctx["title"], ctx["paragraph_text"])
            if key not in docs:
                docs[key] = EvalDoc(f"p{len(docs):05d}", ctx["title"], ctx["paragraph_text"])
            if ctx.get("is_supporting"):
                gold.append(docs[key].doc_id)
        answer = rec["answers_objects"][0]["spans"][0] if rec.get("answers_objects") else ""
        questions.append(HotpotQuestion(rec["question_id"], rec["question_text"], answer, tuple(gold)))
    return HotpotSet(list(docs.values()), questions, {HOTPOTQA_FILE: file_sha256(folder / HOTPOTQA_FILE)})


def subset_retrieval(data: RetrievalSet, n_docs: int, n_queries: int = 5) -> RetrievalSet:
    """A tiny, deterministic slice for smoke tests: the first queries (by id) whose gold docs fit, their
    gold docs, and the first other docs of the corpus up to ``n_docs``."""
    by_id = {d.doc_id: d for d in data.docs}
    qids = sorted(data.qrels)[:n_queries]
    gold = sorted({d for q in qids for d in data.qrels[q]})
    others = [d.doc_id for d in data.docs if d.doc_id not in gold][: max(n_docs - len(gold), 0)]
    docs = [by_id[d] for d in gold + others]
    qrels = {q: data.qrels[q] for q in qids}
    return RetrievalSet(f"{data.name}-subset", docs, {q: data.queries[q] for q in qids}, qrels, data.sha256)
