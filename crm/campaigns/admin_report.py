"""What happened to a campaign: delivery and engagement figures, a chart of the first week, clicks per link, and
the recipients with their latest status as CSV (``/admin/campaigns/{id}/report``, admins only).

Handlers parse, authorise (the admin area's guard), call one service (``crm.campaigns.figures``) and choose a
response. Whether the figures from the provider are facts depends on the transport (``reports_delivery``): the page
says "not reported" rather than showing zeros.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

from litestar import get
from litestar.datastructures import State
from litestar.params import FromPath
from litestar.response import Stream, Template
from sqlalchemy.orm import Session

from crm import models as m
from crm.campaigns import chart, figures
from crm.campaigns import state as lifecycle
from crm.mailing.transports import reports_delivery, transport_label
from crm.timefmt import format_datetime
from crm.web.areas import admin_area
from crm.web.deps import DB, AppSettings
from crm.web.downloads import CSV, download_stream
from crm.web.pages import get_or_404

NO_CAMPAIGN = "No such campaign."
LINES_PER_CHUNK = 500


def _day_label(day: figures.Day) -> str:
    return f"Day {day.number}"


def daily_chart(f: figures.Figures) -> Any:
    """The first week as grouped columns (delivered, opened, clicked per day), or None before the campaign started
    or when the transport reports nothing (zeros would read as facts)."""
    if not f.days or not f.reported:
        return None
    series = {k: v for k, v in figures.CHART_SERIES.items() if _known(f, k)}
    groups = [(_day_label(d), d.counts) for d in f.days]
    start = format_datetime(f.started_at)
    return chart.grouped_columns(
        "Delivered, opened and clicked in the first 7 days",
        groups,
        series,
        description=f"People per day, in 24-hour periods from the start of sending ({start}).",
    )


def _known(f: figures.Figures, key: str) -> bool:
    if key == "open":
        return f.opens_known
    if key == "click":
        return f.clicks_known
    return f.reported


@get("/{campaign_id:int}/report", sync_to_thread=False)
def report_page(db: DB, settings: AppSettings, campaign_id: FromPath[int]) -> Template:
    campaign = get_or_404(db, m.Campaign, campaign_id, NO_CAMPAIGN)
    f = figures.figures_for(db, campaign, reported=reports_delivery(settings))
    series = {k: v for k, v in figures.CHART_SERIES.items() if _known(f, k)}
    return Template(
        "admin/campaign_report.html",
        context={
            "campaign": campaign,
            "status_label": lifecycle.LABELS[campaign.status],
            "f": f,
            "chart": daily_chart(f),
            "series": series,
            "day_label": _day_label,
            "transport": transport_label(settings),
            "not_sent_words": figures.OUTBOX_WORDS,
        },
    )


def _csv_chunks(session_factory: Any, campaign_id: int) -> Iterator[bytes]:
    """The CSV in chunks, read in a session of its own (the request's is closed before a streamed body is sent);
    cells a spreadsheet would run as a formula are prefixed with an apostrophe."""
    session: Session = session_factory()
    try:
        buffer = io.StringIO()
        buffer.write("\ufeff")  # so spreadsheet programs read the names as UTF-8
        writer = csv.writer(buffer)
        for n, row in enumerate(figures.recipient_rows(session, campaign_id), start=1):
            writer.writerow([_safe_cell(v) for v in row])
            if n % LINES_PER_CHUNK == 0:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        if buffer.getvalue():
            yield buffer.getvalue().encode()
    finally:
        session.close()


def _safe_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


@get("/{campaign_id:int}/report.csv", sync_to_thread=False)
def report_csv(db: DB, state: State, campaign_id: FromPath[int]) -> Stream:
    campaign = get_or_404(db, m.Campaign, campaign_id, NO_CAMPAIGN)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    name = f"campaign-{campaign.id}-recipients-{today}.csv"
    return download_stream(_csv_chunks(state.session_factory, campaign.id), CSV, name, {"Cache-Control": "no-store"})


route_handlers: list[object] = admin_area("/admin/campaigns", [report_page, report_csv])
