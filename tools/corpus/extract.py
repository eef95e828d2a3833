"""Turn local files (Markdown, plain text, HTML, PDF, and through office.py Word, PowerPoint, Excel,
EPUB and CSV) into plain text with a title.

Every failure is an ``ExtractError`` whose message is a one-line reason without the path (callers
show the path next to it): "file too large: 200.0 MB > 50.0 MB limit", "encrypted PDF (password
protected)". ``extract_html`` and ``extract_pdf_bytes`` work on in-memory content for the web fetcher.
"""

from __future__ import annotations

import io
import re
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import structlog
import trafilatura
from lxml.etree import LxmlError
from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

from sleuth.tools.corpus.decode import decode_text, reject_binary
from sleuth.tools.corpus.office import BINARY_KINDS, csv_text, extract_office
from sleuth.tools.errors import ExtractError
from sleuth.tools.records import content_hash

log = structlog.get_logger(__name__)

_KIND_BY_SUFFIX = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".rst": "text",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
    ".pptx": "pptx",
    ".xlsx": "xlsx",
    ".epub": "epub",
    ".csv": "csv",
}
SUPPORTED_SUFFIXES = frozenset(_KIND_BY_SUFFIX)
MAX_PDF_PAGES = 2000
TITLE_MAX_CHARS = 120


@dataclass(frozen=True)
class ExtractedText:
    """Text pulled out of one file or page. ``raw_hash`` is the sha256 of the original bytes."""

    title: str
    text: str
    kind: str  # "markdown" | "text" | "html" | "pdf" | "docx" | "pptx" | "xlsx" | "epub" | "csv"
    raw_hash: str
    meta: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


def extract_file(path: Path, *, max_bytes: int) -> ExtractedText:
    """Extract the text of one file; raises ``ExtractError`` with a one-line reason."""
    kind = kind_of(path)
    size = _checked_size(path, max_bytes)
    if kind is None:
        raise ExtractError(unsupported_reason(path))
    if size == 0:
        raise ExtractError("empty file (0 bytes)")
    data = _read_bytes(path, max_bytes)
    if kind == "pdf":
        extracted = extract_pdf_bytes(data)
    elif kind in BINARY_KINDS:
        title, text, raw_hash = extract_office(data, kind)
        extracted = ExtractedText(title=_shorten(title), text=text, kind=kind, raw_hash=raw_hash)
    elif kind == "html":
        reject_binary(data)
        extracted = extract_html(data)
    else:
        text, encoding = decode_text(data)
        extracted = _extract_plain(csv_text(text) if kind == "csv" else text, kind)
        if encoding not in ("utf-8", "utf-16"):
            extracted.meta["encoding"] = encoding
    if not extracted.text.strip():
        raise ExtractError("empty file (no text after extraction)")
    return replace(extracted, title=extracted.title or path.stem, raw_hash=content_hash(data))


def kind_of(path: Path) -> str | None:
    return _KIND_BY_SUFFIX.get(path.suffix.lower())


def unsupported_reason(path: Path) -> str:
    suffix = path.suffix.lower() or "(no extension)"
    return f"unsupported file type {suffix} (supported: {', '.join(sorted(SUPPORTED_SUFFIXES))})"


def _checked_size(path: Path, max_bytes: int) -> int:
    """Stat before reading so a huge file is refused without touching its content."""
    try:
        info = path.stat()
    except FileNotFoundError as e:
        raise ExtractError("broken symbolic link" if path.is_symlink() else "does not exist") from e
    except PermissionError as e:
        raise ExtractError("permission denied") from e
    except OSError as e:
        raise ExtractError(f"cannot read: {e.strerror or e}") from e
    if stat.S_ISDIR(info.st_mode):
        raise ExtractError("is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise ExtractError("not a regular file (device, pipe or socket)")
    if info.st_size > max_bytes:
        raise ExtractError(f"file too large: {_megabytes(info.st_size)} > {_megabytes(max_bytes)} limit")
    return info.st_size


def _megabytes(n: int) -> str:
    return f"{n / 1024**2:.1f} MB"


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    try:
        with path.open("rb") as f:
            data = f.read(max_bytes + 1)
    except PermissionError as e:
        raise ExtractError("permission denied") from e
    except OSError as e:
        raise ExtractError(f"cannot read: {e.strerror or e}") from e
    if len(data) > max_bytes:  # the file grew between stat and read
        raise ExtractError(f"file too large: more than {_megabytes(max_bytes)} limit")
    return data


def _extract_plain(text: str, kind: str) -> ExtractedText:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    title = _markdown_title(text) if kind == "markdown" else ""
    return ExtractedText(title=title or _first_line_title(text), text=text, kind=kind, raw_hash="")


_FRONT_MATTER_TITLE = re.compile(r"\A---\n(?:.*\n)*?title:[ \t]*[\"']?(.+?)[\"']?[ \t]*\n(?:.*\n)*?---\n")
_H1 = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


def _markdown_title(text: str) -> str:
    match = _FRONT_MATTER_TITLE.match(text) or _H1.search(text)
    return _shorten(match.group(1)) if match else ""


def _first_line_title(text: str) -> str:
    """The first line with a letter or digit (skips reStructuredText ==== adornments)."""
    for line in text.splitlines():
        if any(ch.isalnum() for ch in line):
            return _shorten(line.strip().lstrip("#").strip())
    return ""


def _shorten(title: str) -> str:
    title = " ".join(title.split())
    if len(title) <= TITLE_MAX_CHARS:
        return title
    cut = title[:TITLE_MAX_CHARS].rsplit(" ", 1)[0] or title[:TITLE_MAX_CHARS]
    return cut.rstrip(" ,;:-") + "…"


def extract_html(html: str | bytes, url: str | None = None) -> ExtractedText:
    """Main text, title, author and date of an HTML page (bytes are decoded by trafilatura, which
    honours the page's declared charset). No network access. Title may be "" when the page has none."""
    try:
        doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, favor_precision=True)
        text = (doc.text or "") if doc is not None else ""
        if not text.strip():
            # Short pages (a local note saved as HTML) can fall below trafilatura's main-content bar.
            text = trafilatura.html2txt(html) or ""
    except (ValueError, LxmlError) as e:  # trafilatura catches most parser errors itself
        raise ExtractError(f"unreadable HTML: {_one_line(e)}") from e
    title = (doc.title or "") if doc is not None else ""
    meta = {"author": doc.author, "date": doc.date, "sitename": doc.sitename} if doc is not None else {}
    raw = html.encode("utf-8") if isinstance(html, str) else html
    return ExtractedText(
        title=_shorten(title) or _html_title(raw) or _first_line_title(text),
        text=text,
        kind="html",
        raw_hash=content_hash(raw),
        meta={k: v for k, v in meta.items() if v} | ({"url": url} if url else {}),
    )


_HTML_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _html_title(raw: bytes) -> str:
    match = _HTML_TITLE.search(raw)
    return _shorten(match.group(1).decode("utf-8", errors="replace")) if match else ""


def extract_pdf_bytes(data: bytes, *, max_pages: int = MAX_PDF_PAGES) -> ExtractedText:
    """Text of a PDF, pages joined by a blank line. Reads at most ``max_pages`` pages."""
    if b"%PDF-" not in data[:1024]:
        raise ExtractError("corrupt PDF: no %PDF header (not a PDF file?)")
    pages, info = _read_pdf(data, max_pages)
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise ExtractError("no extractable text (scanned PDF? OCR is not supported)")
    title = _shorten(info.pop("title", ""))
    return ExtractedText(
        title=title or _first_line_title(text),
        text=text,
        kind="pdf",
        raw_hash=content_hash(data),
        meta=info,
    )


def _read_pdf(data: bytes, max_pages: int) -> tuple[list[str], dict[str, Any]]:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractError("encrypted PDF (password protected)")
        page_count = len(reader.pages)
        if page_count == 0:
            raise ExtractError("corrupt PDF: no pages")
        if page_count > max_pages:
            log.warning("extract.pdf_truncated", pages=page_count, kept=max_pages)
        pages = [reader.pages[i].extract_text() or "" for i in range(min(page_count, max_pages))]
        metadata = reader.metadata
        info = {"title": metadata.title, "author": metadata.author} if metadata else {}
        info = {k: str(v) for k, v in info.items() if v}
    except ExtractError:
        raise
    except FileNotDecryptedError as e:
        raise ExtractError("encrypted PDF (password protected)") from e
    except DependencyError as e:
        raise ExtractError("encrypted PDF (AES; reading it needs the 'cryptography' package)") from e
    except PdfReadError as e:
        raise ExtractError(f"corrupt PDF: {_one_line(e)}") from e
    except NotImplementedError as e:  # e.g. a non-standard security handler
        raise ExtractError(f"unsupported PDF feature: {_one_line(e)}") from e
    except Exception as e:
        # pypdf's parser raises a long tail of ValueError/KeyError/TypeError/RecursionError on
        # malformed files; all of them mean the same thing to the user.
        raise ExtractError(f"corrupt PDF: {type(e).__name__}: {_one_line(e)}") from e
    return pages, info | {"pages": page_count}


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 160 else text[:157] + "..."
