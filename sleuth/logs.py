"""structlog configuration, called once by entry points (never at import time)."""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(level: str = "error", json_logs: bool = False) -> None:
    processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso"),
    ]
    renderer = (
        structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer(colors=False)
    )
    # pypdf reports recoverable damage ("EOF marker not found") through stdlib logging: our own skip
    # records already say what matters, so keep its chatter off the user's terminal.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
