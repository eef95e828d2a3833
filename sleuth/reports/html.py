"""Reports as HTML: the one Jinja environment (autoescaping) whose templates both the exported HTML file
and the web app use, so a claim, a passage or a title that contains markup always shows as text."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from sleuth import __version__
from sleuth.reports.render import cost_line, verification_line

TEMPLATES = Path(__file__).parent / "templates"


def template_environment(*extra_dirs: Path) -> Environment:
    """Autoescaping Jinja templates: the report's own and ``extra_dirs`` (the web app's pages)."""
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(d)) for d in (*extra_dirs, TEMPLATES)]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(verification_line=verification_line, cost_line=cost_line, version=__version__)
    return env


_ENV = template_environment()


def source_anchor(n: int) -> str:
    return f"#src-{n}"


def render_html(report: Mapping[str, Any], cite_href: Callable[[int], str] = source_anchor) -> str:
    """The report as one self-contained HTML page: [n] links to its source entry and the quoted span."""
    return _ENV.get_template("report.html").render(report=report, cite_href=cite_href)
