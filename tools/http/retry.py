"""The one retry policy for every adapter that talks to a server: the LLM, the embeddings endpoint, the
web fetcher and the web search backends.

An adapter says which of its errors are transient and where a failed response's headers are; this module
owns the rest: exponential backoff with jitter, a server's ``Retry-After`` (seconds, ``retry-after-ms``
or an HTTP-date) capped at ``RETRY_AFTER_CAP_S``, a bound on attempts and on the total time spent waiting,
and one log event per retry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import structlog
from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception, wait_exponential_jitter

log = structlog.get_logger(__name__)

RETRY_AFTER_CAP_S = 30.0  # a server asking for longer is waited on this long at most


def retry_after_s(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
    """Seconds the server asked us to wait: ``retry-after-ms``, or ``Retry-After`` as seconds or an
    HTTP-date. None when it said nothing usable (then the caller's own backoff applies)."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        if "retry-after-ms" in lowered:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        value = lowered.get("retry-after")
        if value is None or not value.strip():
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = parsedate_to_datetime(value.strip())
            return max(0.0, when.timestamp() - (time.time() if now is None else now))
    except (ValueError, TypeError, OverflowError):
        return None


@dataclass(frozen=True)
class RetryPolicy:
    """``max_attempts`` counts every try (1 = no retry). Waits grow from ``backoff_s[0]`` to
    ``backoff_s[1]`` with jitter unless the server hinted a wait; no call waits more than
    ``max_total_wait_s`` in all."""

    max_attempts: int = 4
    backoff_s: tuple[float, float] = (0.5, 8.0)
    max_total_wait_s: float = 60.0
    retry_after_cap_s: float = RETRY_AFTER_CAP_S

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts is the number of attempts and must be at least 1")

    def retrying(self, **options: Any) -> Retrying:
        """A tenacity ``Retrying`` for one blocking I/O call; ``options`` as for ``retry_options``."""
        return Retrying(**self.retry_options(**options))

    def retrying_async(self, **options: Any) -> AsyncRetrying:
        """The same policy for one awaited I/O call."""
        return AsyncRetrying(**self.retry_options(**options))

    def retry_options(
        self,
        *,
        transient: Callable[[BaseException], bool],
        hint: Callable[[BaseException], float | None] = lambda _e: None,
        event: str = "http.retry",
        label: Callable[[BaseException], object] = lambda e: type(e).__name__,
        stop_when: Callable[[RetryCallState], bool] | None = None,
        on_retry: Callable[[RetryCallState], None] | None = None,
        **log_fields: Any,
    ) -> dict[str, Any]:
        """tenacity's arguments for this policy. ``hint(error)``: the server's requested wait in
        seconds, if any; ``label(error)``: what the log's ``status`` says; ``stop_when``: an extra stop
        rule (a caller's deadline)."""
        backoff = wait_exponential_jitter(
            initial=self.backoff_s[0], max=self.backoff_s[1], jitter=self.backoff_s[0]
        )

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            hinted = hint(error) if error is not None else None
            return min(hinted, self.retry_after_cap_s) if hinted is not None else backoff(state)

        def stop(state: RetryCallState) -> bool:
            if state.attempt_number >= self.max_attempts:
                return True
            if state.idle_for + state.upcoming_sleep > self.max_total_wait_s:
                return True
            return bool(stop_when and stop_when(state))

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.warning(
                event,
                attempt=state.attempt_number,
                wait_s=round(state.upcoming_sleep, 3),
                status=label(error) if error is not None else None,
                **log_fields,
            )
            if on_retry is not None:
                on_retry(state)

        return {
            "retry": retry_if_exception(transient),
            "wait": wait,
            "stop": stop,
            "before_sleep": before_sleep,
            "reraise": True,
        }
