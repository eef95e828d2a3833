"""Reports as PDF: the HTML export laid out by WeasyPrint.

WeasyPrint rather than a headless browser's print: it is a Python library (no browser process to find,
start and keep in step), its output is the same on every machine, and it keeps the HTML's internal
links, so [n] in the PDF jumps to its source entry. It needs Pango, which Debian and most Linux desktops
have (libpango-1.0-0, libpangoft2-1.0-0)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sleuth.reports.html import render_html
from sleuth.tools.errors import ConfigError


def render_pdf(report: Mapping[str, Any]) -> bytes:
    try:
        from weasyprint import HTML
    except OSError as e:  # the Python package is installed, the system's Pango is not
        raise ConfigError(
            f"PDF export needs the Pango library ({e}); on Debian/Ubuntu: apt install libpango-1.0-0 "
            "libpangoft2-1.0-0, or export --format html and print it from a browser"
        ) from e
    return HTML(string=render_html(report)).write_pdf()
