"""The web app with a (scripted, loopback) LLM endpoint: a slow run can be cancelled from the page, a
second question while one runs is refused with a reason; and a token, when set, is required."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from sleuth.tools.db.runs import RunLog
from tests.fakes.openai_server import Reply, ScriptedOpenAIServer, responder_by_task
from tests.graph.llm_script import cooperative_model, quote_first_sentences
from tests.webapp.server import WebClient, sleuth_server


def slowly(responder, seconds: float):  # type: ignore[no-untyped-def]
    return lambda request: Reply.slow(seconds, responder(request))


def test_a_run_is_cancelled_at_the_next_step_and_a_second_ask_meanwhile_is_refused(
    served_dir: Path, model_cache_dir: Path, tmp_path: Path
) -> None:
    routes = cooperative_model("What is HyDE?", writer=slowly(quote_first_sentences, 2.0))
    env = {"SLEUTH_MODEL_CACHE_DIR": str(model_cache_dir)}
    with (
        ScriptedOpenAIServer(responder_by_task(routes)) as llm,
        sleuth_server(served_dir, "--llm", "scripted-model", "--base-url", llm.base_url, env=env) as url,
    ):
        web = WebClient(url)
        thread_id, events = web.ask("What is HyDE?")
        assert events[-1] == {**events[-1], "kind": "plan", "plan": ["What is HyDE?"]}
        assert web.post(
            f"/api/threads/{thread_id}/plan", {"action": "accept", "plan": ["What is HyDE?"]}
        ).is_success
        seen, refused = [], None
        with web.http.stream("GET", f"/api/threads/{thread_id}/events", timeout=60) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                seen.append(event)
                if event.get("node") == "retriever":  # the writer's slow call is under way
                    refused = web.post("/api/ask", {"question": "Another question?"})
                    assert web.post(f"/api/threads/{thread_id}/cancel", {}).json() == {"cancelling": True}
        assert refused is not None and refused.status_code == 409 and "running" in refused.json()["error"]
        assert seen[-1]["kind"] == "cancelled"
        assert not any(e.get("node") == "verifier" for e in seen)  # stopped before the next node
        run = RunLog(served_dir / "sleuth.duckdb").get(thread_id)
        assert run["status"] == "cancelled"
        page = web.http.get(f"/threads/{thread_id}").text
        assert 'id="ask-form"' in page and 'data-running=""' in page  # ready for the next question
        web.close()


def test_a_token_is_required_when_set(served_dir: Path, model_cache_dir: Path) -> None:
    env = {"SLEUTH_MODEL_CACHE_DIR": str(model_cache_dir)}
    with sleuth_server(served_dir, "--token", "s3cret-token", env=env) as url:
        assert url.endswith("?token=s3cret-token")
        base = url.split("?")[0]
        with httpx.Client(base_url=base, timeout=30, follow_redirects=True) as http:
            assert http.get("/").status_code == 401
            assert http.get("/?token=wrong").status_code == 401
            entered = http.get("/?token=s3cret-token")  # follows the redirect with the cookie set
            assert entered.status_code == 200 and "csrf-token" in entered.text
            assert "token=" not in str(entered.url)
            assert http.get("/corpus").status_code == 200
        with httpx.Client(base_url=base, timeout=30) as other:
            assert other.get("/", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
            assert other.get("/static/app.js").status_code == 401
