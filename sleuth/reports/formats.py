"""The report formats Sleuth writes, by name: one place for `research --format`, chat's /save, the web
app's downloads and the scheduler. Text formats are UTF-8; PDF and DOCX are bytes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sleuth.reports.render import render_json, render_markdown
from sleuth.tools.errors import ConfigError


def _html(report: Mapping[str, Any]) -> str:
    from sleuth.reports.html import render_html

    return render_html(report)


def _pdf(report: Mapping[str, Any]) -> bytes:
    from sleuth.reports.pdf import render_pdf  # WeasyPrint takes ~0.5 s to import: only when asked

    return render_pdf(report)


def _docx(report: Mapping[str, Any]) -> bytes:
    from sleuth.reports.docx import render_docx

    return render_docx(report)


RENDERERS: dict[str, Callable[[Mapping[str, Any]], str | bytes]] = {
    "md": render_markdown,
    "json": render_json,
    "html": _html,
    "pdf": _pdf,
    "docx": _docx,
}
MEDIA_TYPES = {
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
FORMAT_NAMES = ", ".join(RENDERERS)


def check_format(fmt: str) -> str:
    if fmt not in RENDERERS:
        raise ConfigError(f"unknown report format {fmt!r}: use one of {FORMAT_NAMES}")
    return fmt


def format_for_path(path: Path) -> str | None:
    """The format a file name asks for (report.pdf -> pdf; .markdown and .htm too), or None."""
    suffix = path.suffix.lower().lstrip(".")
    return {"markdown": "md", "htm": "html"}.get(suffix, suffix if suffix in RENDERERS else None)


def render_report(report: Mapping[str, Any], fmt: str) -> bytes:
    rendered = RENDERERS[check_format(fmt)](report)
    return rendered.encode("utf-8") if isinstance(rendered, str) else rendered


def write_report_file(report: Mapping[str, Any], path: Path, fmt: str | None = None) -> None:
    """Render and write in one go; rendering first, so a failed render leaves no half-written file."""
    data = render_report(report, fmt or format_for_path(path) or "md")
    path.write_bytes(data)
