"""The directory import's preview made where it cannot stall the web process (issue 21.2).

The check pass of a 20,000-row file is seconds of CPU-bound Python, and rendering its 1,000 shown rows and every
problem is tens of milliseconds more: both run in a worker process (``crm.web.offload``), which sends back the
report without its rows and problems and those parts already rendered as HTML. The web process renders only the
page around them (summary, notes, the replace choices, the form with its CSRF token).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Collection
from pathlib import Path

from jinja2 import Environment
from markupsafe import Markup
from sqlalchemy.orm import Session

from crm.directory import importer
from crm.web.templating import html_environment

ROWS_TEMPLATE = "admin/_import_preview_rows.html"


@dataclasses.dataclass(frozen=True, slots=True)
class Preview:
    """``report``: counts, notes, file errors and the replace choices' figures (``rows`` and ``problems`` emptied);
    ``rows_html``: the problems, changes and rows tables, rendered."""

    report: importer.ImportReport
    rows_html: Markup


@functools.cache
def _environment() -> Environment:
    return html_environment()


def render_rows(report: importer.ImportReport) -> Markup:
    """The preview's tables (every problem, the changes to matched records, the shown rows)."""
    return Markup(_environment().get_template(ROWS_TEMPLATE).render(report=report))


def check(session: Session, path: Path, replace: Collection[str]) -> Preview:
    """The check pass of ``path`` (nothing written) with its tables rendered: what a worker process sends back."""
    report = importer.run_import(session, path, apply=False, replace=replace)
    rows_html = render_rows(report) if report.ok else Markup("")
    return Preview(dataclasses.replace(report, rows=[], problems=[]), rows_html)
