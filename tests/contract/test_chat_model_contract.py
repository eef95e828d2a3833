"""Contract of the LLM boundary: ``OpenAIChatModel`` with the real ``openai`` client against a scripted
OpenAI-compatible server on loopback (tests/fakes/openai_server.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pydantic
import pytest
from structlog.testing import capture_logs

from sleuth.tools.errors import ModelError, ModelUnavailable
from sleuth.tools.llm import ChatModel, ChatRequest, OpenAIChatModel
from tests.fakes.openai_server import (
    Reply,
    ScriptedOpenAIServer,
    UnexpectedRequest,
    responder_by_task,
    task_of,
)

FAST_RETRIES = {"retry_wait_s": (0.01, 0.05), "timeout_s": 5.0}


class Plan(pydantic.BaseModel):
    queries: list[str]


def request(schema: type[pydantic.BaseModel] | None = None, task: str = "planner") -> ChatRequest:
    messages = [
        {"role": "system", "content": f"task: {task}\nYou plan research."},
        {"role": "user", "content": "What is the boiling point of water?"},
    ]
    return ChatRequest(task=task, messages=messages, schema=schema, prompt_id=f"{task}@v1")


@pytest.fixture
def server() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer() as srv:
        yield srv


def scripted(*replies: Reply | str) -> ScriptedOpenAIServer:
    return ScriptedOpenAIServer(list(replies))


def model_for(srv: ScriptedOpenAIServer, **options: object) -> OpenAIChatModel:
    return OpenAIChatModel(srv.base_url, None, "scripted-model", **{**FAST_RETRIES, **options})


def test_plain_completion_returns_text_usage_and_model_and_logs_the_call() -> None:
    with scripted(Reply.text("Water boils at 100 C.", usage=(12, 6))) as srv, capture_logs() as logs:
        model = model_for(srv)
        response = model.complete(request())
    assert isinstance(model, ChatModel) and model.name == "openai:scripted-model"
    assert response.text == "Water boils at 100 C."
    assert (response.usage.prompt_tokens, response.usage.completion_tokens, response.usage.total_tokens) == (
        12,
        6,
        18,
    )
    assert response.model == "scripted-model"
    sent = srv.requests[0]
    assert sent.path == "/v1/chat/completions" and "response_format" not in sent.json
    assert sent.json["messages"] == request().messages and sent.json["temperature"] == 0.0
    [call] = [e for e in logs if e["event"] == "llm.call"]
    assert call["task"] == "planner" and call["prompt_id"] == "planner@v1" and call["prompt_tokens"] == 12
    assert call["latency_ms"] >= 0
    srv.assert_all_consumed()


def test_missing_usage_counts_as_zero_tokens() -> None:
    with scripted(Reply.text("ok", usage=None)) as srv:
        response = model_for(srv).complete(request())
    assert response.usage.total_tokens == 0


def test_structured_request_sends_json_schema_response_format() -> None:
    with scripted('{"queries": ["water boiling point"]}') as srv:
        response = model_for(srv).complete(request(schema=Plan))
    assert Plan.model_validate_json(response.text).queries == ["water boiling point"]
    response_format = srv.requests[0].json["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"] == {
        "name": "Plan",
        "schema": Plan.model_json_schema(),
        "strict": False,
    }


def test_429_with_retry_after_is_retried_once_and_logged() -> None:
    limited = Reply.http_error(429, "slow down", headers={"Retry-After": "0"})
    with scripted(limited, "done") as srv, capture_logs() as logs:
        response = model_for(srv).complete(request())
    assert response.text == "done" and len(srv.requests) == 2
    [retry] = [e for e in logs if e["event"] == "llm.retry"]
    assert retry["status"] == 429 and retry["wait_s"] == 0 and retry["attempt"] == 1
    assert retry["log_level"] == "warning"


def test_retry_after_ms_header_sets_the_wait() -> None:
    limited = Reply.http_error(429, headers={"retry-after-ms": "40"})
    with scripted(limited, "done") as srv, capture_logs() as logs:
        model_for(srv, retry_wait_s=(5.0, 5.0)).complete(request())
    assert [e["wait_s"] for e in logs if e["event"] == "llm.retry"] == [0.04]


def test_500_twice_then_success() -> None:
    with scripted(Reply.http_error(500), Reply.http_error(502), "finally") as srv:
        response = model_for(srv).complete(request())
    assert response.text == "finally" and len(srv.requests) == 3
    srv.assert_all_consumed()


def test_dropped_connection_is_retried() -> None:
    with scripted(Reply.dropped(), "after the drop") as srv:
        assert model_for(srv).complete(request()).text == "after the drop"
    assert len(srv.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_fail_at_once_with_one_line_reason(status: int) -> None:
    with scripted(Reply.http_error(status, "nope\nsecond line")) as srv, pytest.raises(ModelError) as caught:
        model_for(srv).complete(request())
    assert len(srv.requests) == 1
    message = str(caught.value)
    assert "\n" not in message and srv.base_url in message and f"returned {status} " in message


def test_persistent_503_gives_up_after_max_retries_attempts() -> None:
    overloaded = [Reply.http_error(503, "overloaded")] * 3
    with scripted(*overloaded) as srv, capture_logs() as logs, pytest.raises(ModelError) as caught:
        model_for(srv, max_retries=3).complete(request())
    assert len(srv.requests) == 3
    assert len([e for e in logs if e["event"] == "llm.retry"]) == 2
    assert str(caught.value) == (
        f"LLM endpoint {srv.base_url} returned 503 Service Unavailable after 3 attempts: overloaded"
    )


def test_total_wait_cap_stops_retrying_before_max_attempts() -> None:
    slow_down = Reply.http_error(429, headers={"Retry-After": "0.2"})
    expected = "429 Too Many Requests after 2 attempts"
    with scripted(slow_down, slow_down, slow_down) as srv, pytest.raises(ModelError, match=expected):
        model_for(srv, max_retries=4, max_total_wait_s=0.3).complete(request())
    assert len(srv.requests) == 2


def test_a_timed_out_call_is_not_retried_while_the_server_may_still_compute_it() -> None:
    srv = scripted(Reply.slow(2.0, "too late"), Reply.slow(2.0, "too late")).__enter__()
    started = time.monotonic()
    try:
        with pytest.raises(ModelUnavailable, match=r"timed out \(0.3 s per attempt\)$"):
            model_for(srv, timeout_s=0.3, max_retries=3).complete(request())
        assert time.monotonic() - started < 1.5  # gave up before the server would have answered
    finally:
        closing = time.monotonic()
        srv.close()
    assert time.monotonic() - closing < 1.0  # delayed handlers are cut short, not waited out
    assert len(srv.requests) == 1  # no second copy queued behind the first


def test_calls_to_one_endpoint_wait_for_a_slot_instead_of_piling_up_on_the_server() -> None:
    with scripted(*[Reply.slow(0.3, f"answer {i}") for i in range(3)]) as srv:
        model = model_for(srv, timeout_s=0.5, max_concurrency=1)
        with ThreadPoolExecutor(3) as pool:
            answers = sorted(pool.map(lambda _: model.complete(request()).text, range(3)))
    # three 0.3 s answers one at a time take 0.9 s, longer than the 0.5 s timeout: only waiting for a free
    # slot here (not on the server's queue) lets every call finish
    assert answers == ["answer 0", "answer 1", "answer 2"]
    assert srv.max_in_flight == 1


def test_the_request_deadline_bounds_the_wait_and_max_tokens_is_sent() -> None:
    with scripted(Reply.slow(1.0, "late")) as srv:
        model = model_for(srv, timeout_s=30, max_output_tokens=256)
        started = time.monotonic()
        with pytest.raises(ModelUnavailable, match="timed out"):
            model.complete(
                ChatRequest(
                    task="planner", messages=[{"role": "user", "content": "x"}], schema=None, timeout_s=0.2
                )
            )
        assert time.monotonic() - started < 0.9
    assert srv.requests[0].json["max_tokens"] == 256


def test_rejected_json_schema_falls_back_to_json_object_and_stays_downgraded() -> None:
    rejected = Reply.http_error(500, "response_format type json_schema not supported")
    with scripted(rejected, '{"queries": ["a"]}', '{"queries": ["b"]}') as srv, capture_logs() as logs:
        model = model_for(srv)
        first = model.complete(request(schema=Plan))
        second = model.complete(request(schema=Plan))
    assert (first.text, second.text) == ('{"queries": ["a"]}', '{"queries": ["b"]}')
    assert [r.json["response_format"]["type"] for r in srv.requests] == [
        "json_schema",
        "json_object",
        "json_object",
    ]
    assert srv.requests[1].json["response_format"]["schema"] == Plan.model_json_schema()
    system_prompt = srv.requests[1].json["messages"][0]["content"]
    assert system_prompt.startswith("task: planner\n")  # routing line kept first
    assert json.dumps(Plan.model_json_schema(), separators=(",", ":")) in system_prompt
    assert model.structured_output == "json_object"
    assert len([e for e in logs if e["event"] == "llm.structured_output_downgraded"]) == 1
    srv.assert_all_consumed()


def test_unexplained_400_on_first_structured_call_downgrades() -> None:
    with scripted(Reply.http_error(400, "bad request"), '{"queries": []}') as srv:
        model = model_for(srv)
        assert model.complete(request(schema=Plan)).text == '{"queries": []}'
    assert model.structured_output == "json_object"


def test_unexplained_400_after_json_schema_worked_is_a_plain_error() -> None:
    with scripted('{"queries": []}', Reply.http_error(400, "context too long")) as srv:
        model = model_for(srv)
        model.complete(request(schema=Plan))
        with pytest.raises(ModelError, match="400 Bad Request: context too long"):
            model.complete(request(schema=Plan))
    assert len(srv.requests) == 2 and model.structured_output == "json_schema"


def test_unexplained_500_is_retried_not_treated_as_a_rejection() -> None:
    with scripted(Reply.http_error(500, "oops"), '{"queries": []}') as srv:
        model = model_for(srv)
        model.complete(request(schema=Plan))
    assert [r.json["response_format"]["type"] for r in srv.requests] == ["json_schema", "json_schema"]
    assert model.structured_output == "json_schema"


def test_mode_none_sends_the_schema_only_in_the_prompt_and_temperature_can_be_left_out() -> None:
    user_only = ChatRequest(task="writer", messages=[{"role": "user", "content": "hi"}], schema=Plan)
    with scripted('{"queries": []}') as srv:
        model_for(srv, structured_output="none", temperature=None).complete(user_only)
    sent = srv.requests[0].json
    assert "response_format" not in sent and "temperature" not in sent
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    assert '"queries"' in sent["messages"][0]["content"]


def test_null_content_is_a_model_error() -> None:
    with scripted(Reply.text(None)) as srv, pytest.raises(ModelError, match="no message content"):
        model_for(srv).complete(request())


def test_logs_never_contain_the_api_key_or_message_text() -> None:
    with scripted(Reply.http_error(429, headers={"Retry-After": "0"}), "secret answer") as srv:
        model = OpenAIChatModel(srv.base_url, "sk-very-secret", "scripted-model", **FAST_RETRIES)
        with capture_logs() as logs:
            model.complete(request())
    assert srv.requests[0].headers["authorization"] == "Bearer sk-very-secret"
    logged = repr(logs)
    assert (
        logs and "sk-very-secret" not in logged and "boiling" not in logged and "secret answer" not in logged
    )


# The scripted server itself: it must fail loudly on what the test did not script.


def test_unscripted_request_is_a_recorded_500(server: ScriptedOpenAIServer) -> None:
    with pytest.raises(ModelError, match="unexpected request #1"):
        model_for(server, max_retries=1).complete(request())
    assert len(server.unexpected) == 1
    with pytest.raises(AssertionError, match="unexpected requests"):
        server.assert_all_consumed()


def test_leftover_replies_fail_assert_all_consumed() -> None:
    with scripted("used", "never used") as srv:
        model_for(srv).complete(request())
    with pytest.raises(AssertionError, match="1 scripted replies were never requested"):
        srv.assert_all_consumed()


def test_responder_by_task_routes_on_the_task_line() -> None:
    def writer(request_json: dict) -> str:
        return f"report for {task_of(request_json)}"

    with ScriptedOpenAIServer(responder_by_task({"planner": ["plan"], "writer": writer})) as srv:
        model = model_for(srv, max_retries=1)
        assert model.complete(request(task="writer")).text == "report for writer"
        assert model.complete(request(task="planner")).text == "plan"
        with pytest.raises(ModelError):
            model.complete(request(task="verifier"))
    assert "no script for task 'verifier'" in srv.unexpected[0]
    assert issubclass(UnexpectedRequest, AssertionError)


def test_models_endpoint_lists_the_model(server: ScriptedOpenAIServer) -> None:
    import openai

    listed = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0).models.list()
    assert [m.id for m in listed.data] == ["scripted-model"]
    assert server.requests[0].method == "GET" and task_of(server.requests[0].json) is None
