"""The web app's routes (Starlette): pages rendered on the server from the report records, a small script
for the live parts, server-sent events for progress. Built by ``create_app``; `sleuth serve` runs it."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sleuth.reports.changes import CHANGE_HEADINGS, change_item_text
from sleuth.reports.formats import MEDIA_TYPES, check_format, render_report
from sleuth.reports.html import template_environment
from sleuth.tools.db.schedules import ScheduleStore
from sleuth.tools.errors import SleuthError
from sleuth.web.jobs import BusyError
from sleuth.web.security import Guard
from sleuth.web.workbench import Workbench

HERE = Path(__file__).parent
EVENT_WAIT_S = 10.0  # an event-stream comment at least this often keeps proxies from closing it


def create_app(bench: Workbench, *, token: str | None = None, loopback_only: bool = True) -> Starlette:
    csrf_token = secrets.token_urlsafe(24)
    env = template_environment(HERE / "templates")
    env.globals.update(
        csrf_token=csrf_token, change_headings=CHANGE_HEADINGS, change_item_text=change_item_text
    )

    def page(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(**context), status_code=status_code)

    def not_found(what: str) -> HTMLResponse:
        return page("message.html", 404, title="Not found", message=what)

    async def body(request: Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise SleuthError("send a JSON object")
        return data

    def started(job: Any) -> JSONResponse:
        return JSONResponse({"thread_id": job.thread_id, "events": f"/api/threads/{job.thread_id}/events"})

    async def index(request: Request) -> Response:
        return page("index.html", runs=await run_in_threadpool(bench.past_runs), engine=bench.deps.model.name)

    async def thread_page(request: Request) -> Response:
        view = await run_in_threadpool(bench.thread, request.path_params["thread_id"])
        if view is None:
            job = bench.jobs.running(request.path_params["thread_id"])
            if job is None:
                return not_found("no such thread")
            return page("thread.html", view=None, thread_id=job.thread_id, running=True, formats=[], trace=[])
        tid = view.thread_id
        return page(
            "thread.html",
            view=view,
            thread_id=tid,
            running=view.running is not None,
            trace=bench.jobs.turn_progress(tid),
            formats=list(MEDIA_TYPES),
            cite_href=lambda n: f"/threads/{tid}/sources/{n}",
        )

    async def source_page(request: Request) -> Response:
        tid, n = request.path_params["thread_id"], request.path_params["n"]
        view = await run_in_threadpool(bench.source, tid, n)
        if view is None:
            return not_found(f"no source [{n}] in this thread's report")
        name = "source_panel.html" if request.query_params.get("panel") else "source.html"
        return page(name, view=view, thread_id=tid, n=n)

    async def download(request: Request) -> Response:
        tid, fmt = request.path_params["thread_id"], request.path_params["fmt"]
        view = await run_in_threadpool(bench.thread, tid)
        if view is None or view.report is None:
            return not_found("this thread has no report yet")
        data = await run_in_threadpool(render_report, view.report, check_format(fmt))
        headers = {"Content-Disposition": f'attachment; filename="sleuth-{tid}.{fmt}"'}
        return Response(data, media_type=MEDIA_TYPES[fmt], headers=headers)

    async def ask(request: Request) -> Response:
        data = await body(request)
        return started(bench.ask(str(data.get("question", "")), data.get("thread_id") or None))

    async def plan(request: Request) -> Response:
        data = await body(request)
        action = data.get("action")
        if action not in ("accept", "cancel"):
            raise SleuthError("action must be accept or cancel")
        edited = [str(q) for q in data.get("plan", [])] if action == "accept" else None
        return started(bench.answer_plan(request.path_params["thread_id"], edited))

    async def cancel(request: Request) -> Response:
        return JSONResponse({"cancelling": bench.cancel(request.path_params["thread_id"])})

    async def events(request: Request) -> Response:
        job = bench.jobs.last(request.path_params["thread_id"])
        if job is None:
            return JSONResponse({"error": "nothing running on this thread"}, status_code=404)
        since = int(request.headers.get("last-event-id", request.query_params.get("since", "-1"))) + 1

        async def stream() -> AsyncIterator[str]:
            seen = since
            while True:
                batch, done = await run_in_threadpool(job.wait_events, seen, EVENT_WAIT_S)
                for event in batch:
                    yield f"id: {event['seq']}\ndata: {json.dumps(event)}\n\n"
                seen += len(batch)
                if done and not batch:
                    return
                if not batch:
                    yield ": still working\n\n"

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    async def corpus_page(request: Request) -> Response:
        return page("corpus.html", status=await run_in_threadpool(bench.corpus_status))

    async def ingest(request: Request) -> Response:
        form = await request.form()
        paths = [Path(str(p)).expanduser() for p in form.getlist("path") if str(p).strip()]
        for upload in form.getlist("files"):
            if hasattr(upload, "read") and upload.filename:
                paths.append(await run_in_threadpool(bench.save_upload, upload.filename, await upload.read()))
        if not paths:
            raise SleuthError("choose files to upload or give a folder path")
        return started(bench.ingest(paths))

    async def schedules_page(request: Request) -> Response:
        store = ScheduleStore(bench.settings.duckdb_path)
        jobs = await run_in_threadpool(store.jobs)
        history = {job.name: await run_in_threadpool(store.runs, job.name, limit=20) for job in jobs}
        return page("schedules.html", jobs=jobs, history=history)

    async def schedule_run_page(request: Request) -> Response:
        store = ScheduleStore(bench.settings.duckdb_path)
        run = await run_in_threadpool(store.run, request.path_params["run_id"])
        if run is None or not run.report_json or not Path(run.report_json).is_file():
            return not_found("no report archived for this scheduled run")
        archived = json.loads(Path(run.report_json).read_text(encoding="utf-8"))
        return page(
            "schedule_run.html",
            run=run,
            report=archived,
            changes=archived.get("changes_since_last_run"),
            compared_with=(archived.get("schedule") or {}).get("compared_with"),
            cite_href=lambda n: f"/threads/{run.run_id}/sources/{n}",
        )

    async def refused(request: Request, exc: Exception) -> Response:
        status = 409 if isinstance(exc, BusyError) else 400
        return JSONResponse({"error": str(exc)}, status_code=status)

    routes = [
        Route("/", index),
        Route("/threads/{thread_id:str}", thread_page),
        Route("/threads/{thread_id:str}/sources/{n:int}", source_page),
        Route("/threads/{thread_id:str}/report.{fmt:str}", download),
        Route("/corpus", corpus_page),
        Route("/schedules", schedules_page),
        Route("/schedules/runs/{run_id:str}", schedule_run_page),
        Route("/api/ask", ask, methods=["POST"]),
        Route("/api/threads/{thread_id:str}/plan", plan, methods=["POST"]),
        Route("/api/threads/{thread_id:str}/cancel", cancel, methods=["POST"]),
        Route("/api/threads/{thread_id:str}/events", events),
        Route("/api/corpus/ingest", ingest, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={SleuthError: refused, BusyError: refused})
    app.add_middleware(Guard, token=token, csrf_token=csrf_token, loopback_only=loopback_only)
    return app
