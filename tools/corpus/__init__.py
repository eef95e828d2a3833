"""The local corpus: extraction, chunking, the DuckDB store, BM25, vectors, hybrid search, ingest."""

from sleuth.tools.corpus import fast_overrides

fast_overrides.install()  # before anything here imports chromadb (vectors.py): a cheaper cold start
