"""The local corpus: extraction, chunking, the DuckDB store, BM25, vectors, hybrid search, ingest."""
