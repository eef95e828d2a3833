"""The research graph.

    START -> planner -> research (Send, one branch per open sub-question, in parallel:
                                  decide -> [rewriter -> [web] -> retriever]) -> writer -> verifier
    verifier -> research (Send, only the sections with gaps)  while iterations and budget remain
             -> finalize -> END
    any router -> stop -> finalize  when a budget runs out (the report says so and keeps what was found)
    planner -> approve_plan -> (as after the planner) | END  only with ``approve_plan: True`` in the input:
               an ``interrupt()`` with the plan, resumed with
               ``Command(resume={"action": "accept" | "edit" | "cancel", "plan": ["sub-question", ...]})``

A new question on a finished thread is a follow-up turn: the planner numbers its sub-questions after the
thread's earlier ones and recalls the evidence already gathered; citation numbers stay stable in the thread.

decide says per sub-question whether to retrieve and from where ("none", "local", "web"); the web step
(search, fetch, cache, index) runs only for "web", and then the retriever ranks local and web together.
Node logic lives in agents/; this module only wires it. Every node emits its trace events on the
``custom`` stream (``stream_mode=["updates", "custom"]``) for live progress.

Programmatic use::

    from sleuth.graphs.research import build_graph
    from sleuth.research_app import default_deps     # the configured model and corpus (or build your own)
    graph = build_graph(default_deps())  # deps: agents.deps.ResearchDeps
    state = graph.invoke({"question": "How does BM25 differ from dense retrieval?"})
    state["report"]                      # the report record; sleuth.reports.render.render_markdown(report) for text
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import Callable, Mapping
from typing import Any, get_type_hints

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer, Send, interrupt

from sleuth.agents.common import event, section_evidence, turn_usage
from sleuth.agents.decide import decide_node
from sleuth.agents.deps import ResearchDeps
from sleuth.agents.planner import plan_node, revise_plan
from sleuth.agents.report import finalize_node
from sleuth.agents.retriever import retrieve_node
from sleuth.agents.rewriter import rewrite_node
from sleuth.agents.verifier import verify_node
from sleuth.agents.web import web_node
from sleuth.agents.writer import write_node
from sleuth.graphs.state import BranchOutput, BranchState, ResearchConfig, ResearchInput, ResearchState
from sleuth.tools.errors import ModelError, ModelUnavailable

NodeFn = Callable[[Mapping[str, Any], ResearchDeps], dict[str, Any]]
OPEN_STATUSES = ("open", "gap")
STEP_NAMES = {
    "plan_node": "planner",
    "rewrite_node": "rewriter",
    "write_node": "writer",
    "verify_node": "verifier",
}
STEP_NAMES |= {
    "decide_node": "decide",
    "retrieve_node": "retriever",
    "web_node": "web",
    "finalize_node": "finalize",
}


def where_called(state: Mapping[str, Any]) -> dict[str, Any]:
    """Where in the graph a model call was made, for its usage record: the research round and, inside a
    sub-question's branch, the section. ``agents.report.sequential_llm_rounds`` reads them."""
    where: dict[str, Any] = {"round": int(state.get("round", state.get("iteration", 1)))}
    if "sub_question" in state:
        where["section"] = state["sub_question"]["id"]
    return where


def _node(fn: NodeFn, deps: ResearchDeps) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """Bind deps to a node function and publish its trace events on the custom stream.

    A model error in a node (a refused request, a context overflow, output that stayed invalid) ends the
    run with a partial report that names it; an endpoint that cannot answer at all (``ModelUnavailable``)
    stops the run instead, to be resumed from its checkpoint once the endpoint is back."""
    name = STEP_NAMES.get(fn.__name__, fn.__name__)

    def run(state: Mapping[str, Any]) -> dict[str, Any]:
        try:
            update = fn(state, deps)
        except ModelUnavailable:
            raise
        except ModelError as e:
            reason = f"the {name} step failed: {e}"
            update = {"stop_reason": reason, "trace": [event(name, failed=True, reason=reason)]}
        if update.get("llm_usage"):
            update["llm_usage"] = [{**where_called(state), **r} for r in update["llm_usage"]]
        write = get_stream_writer()
        for entry in update.get("trace", []):
            write({"event": "node", **entry})
        return update

    run.__name__ = fn.__name__
    return run


def _turn_start(plan: Callable[[Mapping[str, Any]], dict[str, Any]], deps: ResearchDeps) -> Any:
    """The planner, as the start of a turn: the question may come as a chat client's last user message;
    the run id defaults to the thread id (a server run is the thread's run); a recorder hears of it."""

    def planner(state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
        messages = list(state.get("messages") or [])
        last = messages[-1] if messages else None
        # a user message this thread has not answered yet (a cancelled turn's stays unanswered, not new)
        fresh = isinstance(last, HumanMessage) and last.id != state.get("question_message_id")
        asked = last if fresh else None
        question = asked.text if asked is not None else state.get("question")
        thread_id = (config.get("configurable") or {}).get("thread_id")
        run_id = state.get("run_id") or (str(thread_id) if thread_id else None)
        update = plan({**state, "question": question, "run_id": run_id})
        if asked is None:  # the question came as ``question``: the chat history shows it too
            asked = HumanMessage(content=update["question"], id=uuid.uuid4().hex)
            update["messages"] = [asked]
        update["question_message_id"] = asked.id
        if deps.recorder is not None:
            deps.recorder.started(update["run_id"], update["question"], deps.model.name)
        return update

    return planner


def _turn_end(finalize: Callable[[Mapping[str, Any]], dict[str, Any]], deps: ResearchDeps) -> Any:
    """Finalize, as the end of a turn: the report also as the assistant's message; a recorder keeps it."""

    def end(state: Mapping[str, Any]) -> dict[str, Any]:
        update = finalize(state)
        report = update["report"]
        if deps.render_answer is not None:
            update["messages"] = [AIMessage(content=deps.render_answer(report), name="sleuth")]
        if deps.recorder is not None:
            deps.recorder.finished(str(state.get("run_id", "")), report)
        return update

    end.__name__ = "finalize"
    return end


def branch_input(state: Mapping[str, Any], sq: Mapping[str, Any], deps: ResearchDeps) -> dict[str, Any]:
    status = state.get("status", {}).get(sq["id"], {})
    return {
        "run_id": state["run_id"],
        "usage_so_far": turn_usage(state),
        "turn": int(state.get("turn", 1)),
        "question": state["question"],
        "sub_question": dict(sq),
        "round": int(state.get("iteration", 1)),
        "missing": list(status.get("missing", [])),
        "known_evidence": section_evidence(
            state.get("evidence", {}), sq["id"], deps.limits.max_evidence_per_section
        ),
        "known_queries": list(state.get("queries", {}).get(sq["id"], [])),
    }


def _route_research(deps: ResearchDeps, otherwise: str) -> Callable[[Mapping[str, Any]], Any]:
    def route(state: Mapping[str, Any]) -> Any:
        status = state.get("status", {})
        todo = [sq for sq in state.get("plan", []) if status.get(sq["id"], {}).get("status") in OPEN_STATUSES]
        if not todo:
            return otherwise
        if state.get("stop_reason") or deps.ledger(state).exhausted():
            return "stop"
        return [Send("research", branch_input(state, sq, deps)) for sq in todo]

    return route


def approve_plan_node(deps: ResearchDeps) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """Pause for the user's verdict on the plan. Runs again from its start on resume: nothing before the
    ``interrupt()`` has side effects."""

    def approve_plan(state: Mapping[str, Any]) -> dict[str, Any]:
        answer = interrupt(
            {
                "question": state["question"],
                "plan": list(state.get("plan", [])),
                "assumption": state.get("assumption", ""),  # editing the plan is how to correct it
            }
        )
        action = answer.get("action", "accept") if isinstance(answer, Mapping) else "accept"
        once = {"approve_plan": False}  # approval is asked per turn: a follow-up says again if it wants it
        if action == "cancel":
            return {**once, "cancelled": True, "trace": [event("approve_plan", action="cancel")]}
        if action != "edit":
            return {**once, "trace": [event("approve_plan", action="accept")]}
        questions = [q if isinstance(q, str) else q.get("question", "") for q in answer.get("plan", [])]
        plan = revise_plan(
            list(state.get("plan", [])),
            questions,
            len(state.get("status", {})),
            deps.limits.max_sub_questions,
        )
        if not plan:
            trace = [event("approve_plan", action="cancel", reason="empty plan")]
            return {**once, "cancelled": True, "trace": trace}
        status = {sq["id"]: {"status": "open", "round": 0, "missing": []} for sq in plan}
        trace = [event("approve_plan", action="edit", sub_questions=[sq["question"] for sq in plan])]
        return {**once, "plan": plan, "status": status, "trace": trace}

    return approve_plan


def stop_node(state: Mapping[str, Any], deps: ResearchDeps) -> dict[str, Any]:
    reason = state.get("stop_reason") or deps.ledger(state).exhausted() or "the run was stopped"
    return {"stop_reason": reason, "trace": [event("stop", reason=reason)]}


def _reducers(schema: type) -> dict[str, Callable[[Any, Any], Any]]:
    """The reducer each key of a state schema declares (``Annotated[type, reducer]``)."""
    hints = get_type_hints(schema, include_extras=True)
    return {key: hint.__metadata__[0] for key, hint in hints.items() if getattr(hint, "__metadata__", None)}


def build_branch(deps: ResearchDeps) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """One sub-question's research (decide -> [rewriter -> [web] -> retriever]) as one node of the parent
    graph, applying each step's update with BranchState's own reducers.

    One node rather than a subgraph: a subgraph checkpoints its whole state after every step, the evidence
    it found included, in every branch of every round; as one node a branch's result is written once, as
    the node's output. Killed mid-branch, the branch runs again from its decide step (its earlier steps
    are a few local searches and at most two model calls)."""
    reducers = _reducers(BranchState)
    outputs = set(BranchOutput.__annotations__)
    decide, rewriter = _node(decide_node, deps), _node(rewrite_node, deps)
    web, retriever = _node(web_node, deps), _node(retrieve_node, deps)

    def research(branch: Mapping[str, Any]) -> dict[str, Any]:
        state, out = dict(branch), {}

        def merged(into: dict[str, Any], key: str, value: Any) -> Any:
            merge = reducers.get(key)
            if merge is None:
                return value
            current = into.get(key)
            return merge([] if current is None and merge is operator.add else current, value)

        def apply(update: Mapping[str, Any]) -> None:
            for key, value in update.items():
                state[key] = merged(state, key, value)
                if key in outputs:
                    out[key] = merged(out, key, value)

        apply(decide(state))
        if state.get("retrieve"):
            apply(rewriter(state))
            if state.get("retrieval") == "web" and deps.web is not None:
                apply(web(state))
            apply(retriever(state))
        return out

    return research


def build_graph(deps: ResearchDeps, checkpointer: Checkpointer = None) -> CompiledStateGraph:
    """The compiled research graph over the given model, search backend and limits."""
    graph = StateGraph(ResearchState, context_schema=ResearchConfig, input_schema=ResearchInput)
    graph.add_node("planner", _turn_start(_node(plan_node, deps), deps))
    graph.add_node("approve_plan", approve_plan_node(deps))
    graph.add_node("research", build_branch(deps))
    graph.add_node("writer", _node(write_node, deps))
    graph.add_node("verifier", _node(verify_node, deps))
    graph.add_node("stop", _node(stop_node, deps))
    graph.add_node("finalize", _turn_end(_node(finalize_node, deps), deps))
    graph.add_edge(START, "planner")
    after_plan = _route_research(deps, "writer")
    graph.add_conditional_edges(
        "planner",
        lambda s: "approve_plan" if s.get("approve_plan") else after_plan(s),
        ["approve_plan", "research", "writer", "stop"],
    )
    graph.add_conditional_edges(
        "approve_plan",
        lambda s: END if s.get("cancelled") else after_plan(s),
        ["research", "writer", "stop", END],
    )
    graph.add_edge("research", "writer")
    graph.add_edge("writer", "verifier")
    graph.add_conditional_edges(
        "verifier", _route_research(deps, "finalize"), ["research", "finalize", "stop"]
    )
    graph.add_edge("stop", "finalize")
    graph.add_edge("finalize", END)
    return graph.compile(checkpointer=checkpointer, name="sleuth-research")
