"""Application storage in DuckDB: the connection, the one schema (migrations), research runs, schedules."""
