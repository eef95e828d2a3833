from tests.graph.sample_corpus import sample_data_dir  # noqa: F401  (session fixture, shared with tests/cli)
