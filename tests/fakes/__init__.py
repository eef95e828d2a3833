"""Test doubles that speak the real wire protocols (no in-process fakes of our own interfaces).

``openai_server.ScriptedOpenAIServer``: a loopback OpenAI-compatible chat server that answers from a script.
"""

from tests.fakes.openai_server import (
    RecordedRequest,
    Reply,
    ScriptedOpenAIServer,
    UnexpectedRequest,
    responder_by_task,
    task_of,
)

__all__ = [
    "RecordedRequest",
    "Reply",
    "ScriptedOpenAIServer",
    "UnexpectedRequest",
    "responder_by_task",
    "task_of",
]
