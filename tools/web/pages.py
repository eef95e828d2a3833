"""What one fetch produces: a ``FetchedPage`` or a ``FetchFailure`` record, and the pure helpers that
turn a response body into text (content-type allowlist, binary sniffing, HTML/PDF/plain extraction).

Every failure carries a one-line ``reason`` and a ``kind`` so a report can group them:

    invalid_url   not an absolute http(s) URL, or it carries credentials
    refused       the SSRF guard: the host resolves to a loopback/private/link-local/... address
    robots        the site's robots.txt disallows it (or robots.txt was unreachable)
    http          an HTTP error status (404, 500, 429 after retries, ...)
    timeout       connect/read timeout or the total per-fetch deadline
    network       connection refused/reset, TLS failure, DNS failure
    too_large     more than the size cap
    content_type  not HTML, XHTML, PDF or plain text
    binary        binary bytes served under a text content type
    redirect      a redirect loop, too many redirects, a redirect without Location
    extract       the body could not be turned into text
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from sleuth.tools.corpus.extract import extract_html, extract_pdf_bytes
from sleuth.tools.errors import ExtractError, FetchError

FailureKind = Literal[
    "invalid_url",
    "refused",
    "robots",
    "http",
    "timeout",
    "network",
    "too_large",
    "content_type",
    "binary",
    "redirect",
    "extract",
]
PageKind = Literal["html", "pdf", "text"]

# Content types we read, and how. Anything else is refused before its body is downloaded.
ALLOWED_CONTENT_TYPES: dict[str, PageKind] = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "text/plain": "text",
}
_SNIFF_BYTES = 8192
_TEXT_CONTROLS = frozenset(b"\t\n\x0c\r\x1b")


class PageFetchError(FetchError):
    """A fetch that failed or was refused. ``str(err)`` is the one-line reason; ``transient`` marks the
    failures worth retrying (connect timeouts, 429, 502/503/504), ``retry_after`` the server's hint."""

    def __init__(
        self,
        reason: str,
        kind: FailureKind,
        *,
        status: int | None = None,
        transient: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.kind: FailureKind = kind
        self.status = status
        self.transient = transient
        self.retry_after = retry_after


def utc_timestamp() -> str:
    """Now, as the ISO-8601 UTC string stored in ``fetched_at`` (second resolution)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class FetchedPage:
    """A page fetched and turned into text. ``url`` is what was asked for, ``final_url`` where the text
    came from after redirects (cite that one); ``body_hash`` is the sha256 of the raw body."""

    url: str
    final_url: str
    status: int
    content_type: str
    fetched_at: str
    body_hash: str
    title: str
    text: str
    author: str | None = None
    date: str | None = None
    kind: PageKind = "html"
    from_cache: bool = field(default=False, compare=False)

    @property
    def ok(self) -> bool:
        return True


@dataclass(frozen=True)
class FetchFailure:
    """A URL that yielded no page, with the reason. Never dropped: reports list these as skips."""

    url: str
    reason: str
    kind: FailureKind
    status: int | None = None
    final_url: str | None = None
    fetched_at: str = field(default_factory=utc_timestamp)
    from_cache: bool = field(default=False, compare=False)

    @property
    def ok(self) -> bool:
        return False

    @classmethod
    def from_error(cls, url: str, err: PageFetchError, final_url: str | None = None) -> FetchFailure:
        return cls(url=url, reason=str(err), kind=err.kind, status=err.status, final_url=final_url)


FetchResult = FetchedPage | FetchFailure


def media_type(content_type: str | None) -> str:
    """``"text/html; charset=utf-8"`` -> ``"text/html"``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def kind_for_content_type(content_type: str | None) -> PageKind | None:
    """The page kind for an allowed content type, None when the header is missing (sniff the body)."""
    mime = media_type(content_type)
    if not mime:
        return None
    if mime not in ALLOWED_CONTENT_TYPES:
        allowed = ", ".join(ALLOWED_CONTENT_TYPES)
        raise PageFetchError(f"unsupported content type {mime} (allowed: {allowed})", "content_type")
    return ALLOWED_CONTENT_TYPES[mime]


def sniff_kind(head: bytes) -> PageKind:
    """Kind of a body served without a Content-Type."""
    if head.lstrip().startswith(b"%PDF-"):
        return "pdf"
    looks_binary(head, "(no content type)")
    return "html" if b"<" in head[:1024] else "text"


def looks_binary(head: bytes, content_type: str) -> None:
    """Refuse binary bytes served under a text type: a NUL byte, or over 10% control characters."""
    head = head[:_SNIFF_BYTES]
    controls = sum(1 for b in head if b < 32 and b not in _TEXT_CONTROLS)
    if b"\x00" in head or controls > len(head) * 0.1:
        raise PageFetchError(f"binary content served as {content_type or 'text'}", "binary")


def extract_body(
    body: bytes, kind: PageKind, url: str, charset: str | None
) -> tuple[str, str, dict[str, str]]:
    """(title, text, meta) of a body; meta may hold ``author`` and ``date``. Pure data: nothing in the
    page (links, refresh tags, instructions in its text) is acted on."""
    try:
        if kind == "pdf":
            extracted = extract_pdf_bytes(body)
        elif kind == "html":
            looks_binary(body, "text/html")
            extracted = extract_html(body, url)
        else:
            looks_binary(body, "text/plain")
            text = body.decode(_codec(charset), errors="replace").replace("\r\n", "\n")
            title = next((line.strip() for line in text.splitlines() if line.strip()), "")[:120]
            return title, text, {}
    except ExtractError as e:
        raise PageFetchError(f"cannot extract text: {e}", "extract") from e
    if not extracted.text.strip():
        raise PageFetchError("no text after extraction", "extract")
    meta = {k: str(extracted.meta[k]) for k in ("author", "date") if extracted.meta.get(k)}
    return extracted.title, extracted.text, meta


def _codec(charset: str | None) -> str:
    try:
        return codecs.lookup(charset).name if charset else "utf-8"
    except LookupError:
        return "utf-8"
