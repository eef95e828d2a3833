"""One HTTP exchange of a fetch (one hop of a redirect chain), with the limits that make hostile servers
harmless: a deadline shared by the whole fetch, a size cap enforced while streaming, the content-type
allowlist checked before the body is read, and the shared retry policy (tools/http/retry.py) for
transient failures only (connect timeouts, 429 honouring Retry-After, 502/503/504) — never 4xx, never 500.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx
import structlog
from tenacity import RetryCallState

from sleuth.tools.http.retry import RETRY_AFTER_CAP_S, RetryPolicy, retry_after_s
from sleuth.tools.web.hosts import HostGates
from sleuth.tools.web.pages import PageFetchError, PageKind, kind_for_content_type

log = structlog.get_logger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})


@dataclass
class Budget:
    """What is left of a fetch's total deadline. Waiting for a host slot does not count; retry
    back-off does."""

    deadline_s: float
    spent_s: float = 0.0

    def remaining(self) -> float:
        return self.deadline_s - self.spent_s


@dataclass(frozen=True)
class Limits:
    user_agent: str
    connect_timeout_s: float
    read_timeout_s: float
    max_attempts: int
    backoff_initial_s: float


@dataclass(frozen=True)
class RawResponse:
    url: str
    status: int
    content_type: str
    charset: str | None
    body: bytes
    kind: PageKind | None  # None: served without a Content-Type (the caller sniffs)
    location: str | None = None  # set for a redirect (and the body is empty)


async def exchange(
    client: httpx.AsyncClient,
    url: httpx.URL,
    *,
    budget: Budget,
    gates: HostGates,
    limits: Limits,
    max_bytes: int,
    check_type: bool,
) -> RawResponse:
    """GET ``url`` once, retried when transient; raises ``PageFetchError`` with a one-line reason."""
    policy = RetryPolicy(
        max_attempts=limits.max_attempts,
        backoff_s=(limits.backoff_initial_s, limits.backoff_initial_s * 8),
        max_total_wait_s=budget.deadline_s,
    )
    retrying = policy.retrying_async(
        transient=lambda e: isinstance(e, PageFetchError) and e.transient,
        hint=lambda e: e.retry_after if isinstance(e, PageFetchError) else None,
        event="fetch.retry",
        label=str,
        stop_when=lambda state: state.upcoming_sleep >= budget.remaining(),
        on_retry=lambda state: _note_retry(state, budget),
        url=str(url),
    )
    try:
        return await retrying(_timed_once, client, url, budget, gates, limits, max_bytes, check_type)
    except PageFetchError as e:
        attempts = retrying.statistics.get("attempt_number", 1)
        if not e.transient:
            raise
        if e.retry_after is not None and min(e.retry_after, RETRY_AFTER_CAP_S) > budget.remaining():
            raise PageFetchError(
                f"{e} (Retry-After {e.retry_after:g} s is past the fetch deadline)", e.kind, status=e.status
            ) from e
        raise PageFetchError(
            f"{e} (after {attempts} attempts)" if attempts > 1 else str(e), e.kind, status=e.status
        ) from e


def _note_retry(state: RetryCallState, budget: Budget) -> None:
    budget.spent_s += state.upcoming_sleep


async def _timed_once(
    client: httpx.AsyncClient,
    url: httpx.URL,
    budget: Budget,
    gates: HostGates,
    limits: Limits,
    max_bytes: int,
    check_type: bool,
) -> RawResponse:
    async with gates.slot(url.host):
        remaining = budget.remaining()
        if remaining <= 0:
            raise _deadline_error(budget)
        started = time.monotonic()
        try:
            async with asyncio.timeout(remaining):
                return await _get(client, url, limits, max_bytes, check_type)
        except TimeoutError as e:  # asyncio's deadline, not one of httpx's timeouts
            raise _deadline_error(budget) from e
        finally:
            budget.spent_s += time.monotonic() - started


def _deadline_error(budget: Budget) -> PageFetchError:
    return PageFetchError(
        f"timed out: no complete response within {budget.deadline_s:g} s (fetch deadline)", "timeout"
    )


async def _get(
    client: httpx.AsyncClient, url: httpx.URL, limits: Limits, max_bytes: int, check_type: bool
) -> RawResponse:
    timeout = httpx.Timeout(limits.read_timeout_s, connect=limits.connect_timeout_s)
    request = client.build_request("GET", url, headers={"User-Agent": limits.user_agent}, timeout=timeout)
    try:
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            return await _read(response, max_bytes, check_type)
        finally:
            await response.aclose()
    except httpx.ConnectTimeout as e:
        raise PageFetchError(
            f"connect to {url.host} timed out after {limits.connect_timeout_s:g} s", "timeout", transient=True
        ) from e
    except httpx.TimeoutException as e:
        raise PageFetchError(
            f"read from {url.host} timed out after {limits.read_timeout_s:g} s", "timeout"
        ) from e
    except httpx.ConnectError as e:
        raise PageFetchError(f"cannot connect to {url.host}: {_one_line(e)}", "network") from e
    except httpx.TransportError as e:
        raise PageFetchError(
            f"connection to {url.host} failed: {type(e).__name__}: {_one_line(e)}", "network"
        ) from e


async def _read(response: httpx.Response, max_bytes: int, check_type: bool) -> RawResponse:
    status = response.status_code
    content_type = response.headers.get("content-type", "")
    common = {
        "url": str(response.url),
        "status": status,
        "content_type": content_type,
        "charset": response.charset_encoding,
    }
    if status in REDIRECT_STATUSES:
        location = response.headers.get("location")
        if not location:
            raise PageFetchError(
                f"HTTP {status} redirect without a Location header", "redirect", status=status
            )
        return RawResponse(body=b"", kind=None, location=location, **common)
    if not 200 <= status < 300:
        raise _status_error(response)
    kind = kind_for_content_type(content_type) if check_type else None
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise PageFetchError(
            f"too large: Content-Length {_mb(int(declared))} > {_mb(max_bytes)} limit", "too_large"
        )
    body = bytearray()
    async for block in response.aiter_bytes():  # decoded: a gzip bomb hits the cap too
        body += block
        if len(body) > max_bytes:
            raise PageFetchError(f"too large: more than {_mb(max_bytes)} (size cap)", "too_large")
    return RawResponse(body=bytes(body), kind=kind, **common)


def _status_error(response: httpx.Response) -> PageFetchError:
    status = response.status_code
    reason = f"HTTP {status} {response.reason_phrase}".strip()
    transient = status in TRANSIENT_STATUSES
    retry_after = retry_after_s(response.headers) if transient else None
    return PageFetchError(reason, "http", status=status, transient=transient, retry_after=retry_after)


def _mb(n: int) -> str:
    return f"{n / 1024**2:.1f} MB"


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 160 else text[:157] + "..."
