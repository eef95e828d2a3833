"""The Embedder contract, run against every adapter: the offline MiniLM model and an OpenAI-compatible
endpoint (a real HTTP server on 127.0.0.1 speaking the /v1/embeddings protocol). Then the OpenAI
adapter's transport behaviour: batching, retry on 429/5xx, timeouts, errors translated to one line."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest

from sleuth.tools.embeddings import EmbeddingError, MiniLMEmbedder
from sleuth.tools.embeddings.openai_embedder import OpenAIEmbedder
from sleuth.tools.errors import ToolError
from sleuth.tools.protocols import Embedder
from tests.fakes.embeddings_server import FAKE_DIM, FakeEmbeddingsServer, fake_vector, serve_embeddings

TEXTS = ["alpha", "a somewhat longer text about embeddings and search", "gamma ray burst", "", "alpha"]


@pytest.fixture
def server() -> Iterator[FakeEmbeddingsServer]:
    with serve_embeddings() as state:
        yield state


@pytest.fixture(scope="module")
def minilm(tmp_path_factory: pytest.TempPathFactory) -> MiniLMEmbedder:
    return MiniLMEmbedder(tmp_path_factory.mktemp("models"), batch_size=2)


@pytest.fixture(params=["minilm", "minilm-int8", "openai"])
def embedder(request: pytest.FixtureRequest, minilm: MiniLMEmbedder) -> Embedder:
    if request.param == "minilm":
        return minilm
    if request.param == "minilm-int8":
        return MiniLMEmbedder(minilm.cache_dir, batch_size=2, precision="int8")
    state = request.getfixturevalue("server")
    return OpenAIEmbedder(state.url, "sk-test", "fake-embed", batch_size=2)


# --- the contract -------------------------------------------------------------------------------


def test_shape_dtype_and_unit_norm(embedder: Embedder) -> None:
    vectors = embedder.embed(TEXTS)
    assert isinstance(embedder, Embedder)
    assert vectors.shape == (len(TEXTS), embedder.dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_rows_follow_input_order_across_batches(embedder: Embedder) -> None:
    together = embedder.embed(TEXTS)
    one_by_one = np.stack([embedder.embed([t])[0] for t in TEXTS])
    assert np.abs(together - one_by_one).max() < 1e-5
    assert np.allclose(together[0], together[4], atol=1e-6)  # same text, same vector
    assert not np.allclose(together[0], together[2], atol=1e-2)


def test_deterministic_and_empty_list(embedder: Embedder) -> None:
    assert np.array_equal(embedder.embed(TEXTS[:3]), embedder.embed(TEXTS[:3]))
    assert embedder.embed([]).shape[0] == 0
    assert isinstance(embedder.name, str) and embedder.name


# --- the OpenAI-compatible adapter's transport ------------------------------------------------------


def test_openai_batches_requests_and_learns_dim(server: FakeEmbeddingsServer) -> None:
    embedder = OpenAIEmbedder(server.url, "sk-test", "fake-embed", batch_size=2)
    assert embedder.name == "openai:fake-embed"
    vectors = embedder.embed(TEXTS)
    assert embedder.dim == FAKE_DIM and len(server.requests) == 3  # 5 texts in batches of 2
    first = server.requests[0]
    assert first["path"] == "/v1/embeddings" and first["auth"] == "Bearer sk-test"
    assert first["model"] == "fake-embed" and first["encoding_format"] == "float"
    expected = np.asarray(fake_vector(TEXTS[1]))
    assert np.allclose(vectors[1], expected / np.linalg.norm(expected), atol=1e-6)


def test_openai_retries_once_after_429(server: FakeEmbeddingsServer) -> None:
    server.planned_errors = [429]
    vectors = OpenAIEmbedder(server.url, None, "fake-embed").embed(["hello"])
    assert len(server.requests) == 2 and vectors.shape == (1, FAKE_DIM)


def test_openai_gives_up_after_bounded_attempts(server: FakeEmbeddingsServer) -> None:
    server.planned_errors = [503] * 10
    embedder = OpenAIEmbedder(server.url, None, "fake-embed", max_attempts=4)
    with pytest.raises(EmbeddingError, match="HTTP 503") as caught:
        embedder.embed(["hello"])
    assert len(server.requests) == 4 and isinstance(caught.value, ToolError)
    assert "\n" not in str(caught.value)


def test_openai_client_errors_are_not_retried(server: FakeEmbeddingsServer) -> None:
    server.planned_errors = [401]
    with pytest.raises(EmbeddingError, match="HTTP 401"):
        OpenAIEmbedder(server.url, "wrong", "fake-embed").embed(["hello"])
    assert len(server.requests) == 1


def test_openai_timeout_is_retried_then_reported(server: FakeEmbeddingsServer) -> None:
    server.release = threading.Event()
    embedder = OpenAIEmbedder(server.url, None, "fake-embed", timeout_s=0.2, max_attempts=2)
    with pytest.raises(EmbeddingError, match="Timeout"):
        embedder.embed(["hello"])
    assert len(server.requests) == 2


def test_openai_unreachable_endpoint_is_a_tool_error() -> None:
    embedder = OpenAIEmbedder("http://127.0.0.1:9/v1", None, "fake-embed", max_attempts=1)
    with pytest.raises(EmbeddingError, match="127.0.0.1:9"):
        embedder.embed(["hello"])
