"""EndpointReranker against loopback servers in both /rerank dialects: scores placed by index, TEI's
request shape found and remembered, transient errors retried, nonsense answered in one line."""

from __future__ import annotations

import pytest

from sleuth.tools.errors import ModelUnavailable
from sleuth.tools.http.retry import RetryPolicy
from sleuth.tools.rerank import EndpointReranker
from tests.fakes.rerank_server import serve_rerank

FAST = RetryPolicy(max_attempts=3, backoff_s=(0.01, 0.02), max_total_wait_s=1.0)
TEXTS = ["BM25 ranks by term frequency.", "A cross-encoder reads query and passage together.", "Cats."]


def overlap(query: str, text: str) -> float:
    return float(len(set(query.lower().split()) & set(text.lower().rstrip(".").split())))


def test_jina_cohere_shape_scores_come_back_in_text_order() -> None:
    with serve_rerank(overlap) as server:
        reranker = EndpointReranker(server.url, "bge-reranker", api_key="k", retry=FAST)
        scores = reranker.score("cross-encoder reads passage", TEXTS)
    assert scores == [0.0, 3.0, 0.0]
    sent = server.requests[0]
    assert sent["path"] == "/v1/rerank" and sent["auth"] == "Bearer k"
    assert sent["model"] == "bge-reranker" and sent["documents"] == TEXTS and sent["top_n"] == 3


def test_a_tei_server_is_detected_once_and_remembered() -> None:
    with serve_rerank(overlap, tei=True) as server:
        reranker = EndpointReranker(server.url.removesuffix("/v1") + "/rerank", retry=FAST)
        assert reranker.score("bm25 term", TEXTS) == [2.0, 0.0, 0.0]
        assert reranker.score("cats", TEXTS) == [0.0, 0.0, 1.0]
    assert ["texts" in r for r in server.requests] == [False, True, True]


def test_transient_errors_are_retried_and_lasting_ones_are_one_line() -> None:
    with serve_rerank(overlap) as server:
        server.planned_errors = [503]
        assert EndpointReranker(server.url, retry=FAST).score("cats", TEXTS)[2] == 1.0
        server.planned_errors = [503, 503, 503]
        with pytest.raises(ModelUnavailable, match=r"kept failing: HTTP 503"):
            EndpointReranker(server.url, retry=FAST).score("cats", TEXTS)
        server.planned_errors = [401]
        with pytest.raises(ModelUnavailable, match=r"answered HTTP 401") as caught:
            EndpointReranker(server.url, retry=FAST).score("cats", TEXTS)
    assert "\n" not in str(caught.value)


def test_an_unreachable_endpoint_is_one_line() -> None:
    with serve_rerank(overlap) as server:
        url = server.url
    with pytest.raises(ModelUnavailable, match="could not be reached"):
        EndpointReranker(url, retry=FAST, timeout_s=2).score("cats", TEXTS)
