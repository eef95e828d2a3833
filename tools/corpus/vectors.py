"""Dense vectors in an embedded Chroma collection. We always pass precomputed embeddings (Chroma's
default embedding function downloads a model at run time), and record the embedding model's name and
dimension in the collection metadata so vectors of two models never mix."""

from __future__ import annotations

import shutil
from pathlib import Path

import chromadb
import numpy as np
from chromadb.api.client import SharedSystemClient
from chromadb.errors import ChromaError

from sleuth.tools.errors import EmbeddingMismatch, VectorIndexUnreadable

COLLECTION = "chunks"


class VectorIndex:
    def __init__(self, path: Path, *, model_name: str, dim: int) -> None:
        self.model_name = model_name
        self.dim = dim
        try:
            self._client = chromadb.PersistentClient(
                path=str(path), settings=chromadb.Settings(anonymized_telemetry=False, allow_reset=False)
            )
            self._collection = self._client.get_or_create_collection(
                COLLECTION,
                embedding_function=None,
                metadata={"hnsw:space": "cosine", "embedding_model": model_name, "embedding_dim": dim},
            )
        except (ChromaError, ValueError, OSError) as e:
            raise VectorIndexUnreadable(
                f"cannot open the vector index at {path}: {e}; `sleuth doctor` rebuilds it from the database"
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
        res = self._collection.query(query_embeddings=[embedding], n_results=k, include=["distances"])
        return [
            (cid, 1.0 - float(dist)) for cid, dist in zip(res["ids"][0], res["distances"][0], strict=True)
        ]

    @staticmethod
    def drop(path: Path) -> None:
        """Delete the collection; when the files are too damaged to open, delete them (the vectors are
        derived data: every chunk is in DuckDB and is embedded again)."""
        try:
            client = chromadb.PersistentClient(
                path=str(path), settings=chromadb.Settings(anonymized_telemetry=False)
            )
            if COLLECTION in [c.name for c in client.list_collections()]:
                client.delete_collection(COLLECTION)
        except (ChromaError, ValueError, OSError, AttributeError):
            shutil.rmtree(path, ignore_errors=True)
        SharedSystemClient.clear_system_cache()  # chroma caches one (here: broken) client per path
