"""Dense vectors in a Chroma collection: embedded (files in the data dir, the default) or on a Chroma
server (``chroma run``, Chroma Cloud), one collection per corpus. We always pass precomputed embeddings
(Chroma's default embedding function downloads a model at run time), and record the embedding model's
name and dimension in the collection metadata so vectors of two models never mix."""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import chromadb  # the package's __init__ has made Chroma's import cheaper (fast_overrides.py)
import numpy as np
import structlog
from chromadb.api.client import SharedSystemClient
from chromadb.errors import ChromaError

from sleuth.tools.errors import ConfigError, EmbeddingMismatch, VectorIndexUnreadable

log = structlog.get_logger(__name__)
COLLECTION = "chunks"  # the embedded store's: each data dir has its own files


@dataclass(frozen=True)
class VectorStore:
    """Where a corpus keeps its vectors: ``path`` for the embedded store, or a Chroma server's address."""

    path: Path | None = None
    host: str = ""
    port: int = 8000
    ssl: bool = False
    headers: dict[str, str] = field(default_factory=dict)  # e.g. Authorization: Bearer <token>
    collection: str = COLLECTION

    @property
    def where(self) -> str:
        if not self.host:
            return str(self.path)
        return f"{'https' if self.ssl else 'http'}://{self.host}:{self.port} (collection {self.collection})"

    def client(self) -> Any:
        settings = chromadb.Settings(anonymized_telemetry=False, allow_reset=False)
        if not self.host:
            return chromadb.PersistentClient(path=str(self.path), settings=settings)
        try:
            return chromadb.HttpClient(
                host=self.host, port=self.port, ssl=self.ssl, headers=dict(self.headers), settings=settings
            )
        except (ChromaError, ValueError, OSError, ConnectionError) as e:
            raise ConfigError(
                f"cannot reach the Chroma server at {self.where}: {str(e).splitlines()[0] if str(e) else e!r}; "
                "check chroma_host / chroma_port (unset chroma_host for the embedded store)"
            ) from e


def embedded(path: Path) -> VectorStore:
    return VectorStore(path=path)


class VectorIndex:
    def __init__(self, store: VectorStore | Path, *, model_name: str, dim: int) -> None:
        store = store if isinstance(store, VectorStore) else embedded(store)
        self.store = store
        self.model_name = model_name
        self.dim = dim
        self._loading: threading.Thread | None = None
        try:
            self._client = store.client()
            self._collection = self._client.get_or_create_collection(
                store.collection,
                embedding_function=None,
                metadata={"hnsw:space": "cosine", "embedding_model": model_name, "embedding_dim": dim},
            )
        except (ChromaError, ValueError, OSError) as e:
            if store.host:
                raise ConfigError(f"the Chroma server at {store.where} refused the collection: {e}") from e
            raise VectorIndexUnreadable(
                f"cannot open the vector index at {store.where}: {e}; `sleuth doctor` rebuilds it from the database"
            ) from e
        self._check_model()

    def _check_model(self) -> None:
        meta = self._collection.metadata or {}
        stored = (meta.get("embedding_model"), meta.get("embedding_dim"))
        if stored != (self.model_name, self.dim):
            raise EmbeddingMismatch(
                f"the vector index was built with {stored[0]} ({stored[1]}-d) but the configured embedding model is "
                f"{self.model_name} ({self.dim}-d); run `sleuth reindex` to re-embed every chunk with the new model, "
                "or switch the embedding settings back"
            )

    def preload(self) -> None:
        """Start loading the HNSW index in the background (Chroma loads it whole on the first query: 0.7 s
        at 300k chunks), so a cold search embeds its query and ranks BM25 meanwhile. ``query`` waits."""
        if self._loading is None:
            self._loading = threading.Thread(target=self._load, name="chroma-preload", daemon=True)
            self._loading.start()

    def _load(self) -> None:
        try:
            self._collection.query(query_embeddings=[np.zeros(self.dim)], n_results=1, include=[])
        except BaseException as e:  # noqa: BLE001 - a warm-up: the real query reports any failure
            log.debug("vectors.preload_failed", error=str(e))

    def count(self) -> int:
        return self._collection.count()

    def ids(self) -> set[str]:
        return set(self._collection.get(include=[])["ids"])

    def add(self, ids: list[str], embeddings: np.ndarray, doc_ids: list[str]) -> None:
        step = self._client.get_max_batch_size()
        for i in range(0, len(ids), step):
            self._collection.upsert(
                ids=ids[i : i + step],
                embeddings=embeddings[i : i + step],
                metadatas=[{"doc_id": d} for d in doc_ids[i : i + step]],
            )

    def delete_documents(self, doc_ids: list[str]) -> None:
        if doc_ids:
            self._collection.delete(where={"doc_id": {"$in": list(doc_ids)}})

    def delete_ids(self, ids: list[str]) -> None:
        step = self._client.get_max_batch_size()
        for i in range(0, len(ids), step):
            self._collection.delete(ids=ids[i : i + step])

    def query(self, embedding: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Nearest chunks as (chunk_id, cosine similarity), best first."""
        if k <= 0:
            return []
        if self._loading is not None:
            self._loading.join()
        res = self._collection.query(query_embeddings=[embedding], n_results=k, include=["distances"])
        return [
            (cid, 1.0 - float(dist)) for cid, dist in zip(res["ids"][0], res["distances"][0], strict=True)
        ]

    @staticmethod
    def drop(store: VectorStore | Path) -> None:
        """Delete the collection; when the embedded files are too damaged to open, delete them (the
        vectors are derived data: every chunk is in DuckDB and is embedded again)."""
        store = store if isinstance(store, VectorStore) else embedded(store)
        if store.host:  # a server: only this corpus's collection goes, never the server's other data
            client = store.client()
            if store.collection in [c.name for c in client.list_collections()]:
                client.delete_collection(store.collection)
            return
        try:
            client = store.client()
            if store.collection in [c.name for c in client.list_collections()]:
                client.delete_collection(store.collection)
        except (ChromaError, ValueError, OSError, AttributeError):
            shutil.rmtree(str(store.path), ignore_errors=True)
        SharedSystemClient.clear_system_cache()  # chroma caches one (here: broken) client per path
