"""The fellow's pages: dashboard (``/admin``), impact reports and the audit log (the privacy tools are in
crm/privacy/admin.py).

Handlers parse, authorise, call one service function and choose a response (see docs/dashboard.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response, get
from litestar.response import Template
from sqlalchemy.orm import Session

from crm import models as m
from crm.dashboard import audit_log, charts, reports
from crm.dashboard import services as ds
from crm.listing import ListParams
from crm.mailing.transports import reports_delivery, transport_label
from crm.web import offload
from crm.web.areas import admin_area
from crm.web.auth import admin_guard, signed_in_guard
from crm.web.deps import DB, AppSettings, CurrentUser
from crm.web.downloads import CSV, download
from crm.web.pages import list_page


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


STAGE_LABELS = {s.value: s.value.capitalize() for s in m.PartnershipStage}
HEALTH_LABELS = {"active": "Active", "quiet": "Quiet", "dormant": "Dormant"}


# --- dashboard ------------------------------------------------------------------------------------------------


# Heavy at scale (1.5 s of SQLite at 100k rows): computed in a worker process at a lower CPU priority, because even
# SQL that releases the GIL competes with the event loop for the core when it runs in the web process
# (architecture.md, Heavy requests).
@get("/", guards=[signed_in_guard], exception_handlers=offload.EXCEPTION_HANDLERS)
async def dashboard(user: CurrentUser, settings: AppSettings) -> Template:
    """Admins see the dashboard; other signed-in users see a short welcome (no SQL beyond the session)."""
    if user is None or not user.is_admin:
        return Template("admin/dashboard_welcome.html")
    board = await offload.run_in_session(settings, ds.dashboard, now=_now(), settings=settings)
    sh = board.stage_health
    stage_chart = charts.bar_chart(
        "Partnerships by stage",
        [(STAGE_LABELS[k], v) for k, v in sh.by_stage.items()],
        description=f"{sh.total} partnerships in all.",
    )
    health_chart = charts.bar_chart(
        "Live partnerships by health",
        [(HEALTH_LABELS[k], v) for k, v in sh.by_health.items()],
        description="Health of partnerships at idea, exploring, proposal, funded or active stage.",
    )
    reported = reports_delivery(settings)
    mail_chart = charts.bar_chart(
        f"Mail health, last {ds.MAIL_WINDOW_DAYS} days",
        [
            (label, n)
            for label, n in board.counters.mail_health.items()
            if reported or label not in ds.Counters.PROVIDER_FIGURES
        ],
        description=f"{board.counters.sent} emails sent.",
    )
    quarters = board.involvement_quarters
    involvement_chart = charts.bar_chart(
        "Involvement hours by quarter",
        [(q.label, round(q.hours)) for q in quarters],
        description="Hours of involvement recorded, by the quarter people took part.",
        unit=" h",
    )
    return Template(
        "admin/dashboard.html",
        context={
            "board": board,
            "involvement_chart": involvement_chart,
            "stage_chart": stage_chart,
            "health_chart": health_chart,
            "mail_chart": mail_chart,
            "stage_labels": STAGE_LABELS,
            "health_labels": HEALTH_LABELS,
            "deadline_days": ds.DEADLINE_WINDOW_DAYS,
            "mail_days": ds.MAIL_WINDOW_DAYS,
            "delivery_reported": reported,
            "provider_figures": ds.Counters.PROVIDER_FIGURES,
            "transport": transport_label(settings),
        },
    )


# --- reports --------------------------------------------------------------------------------------------------


def _period(request: Request[Any, Any, Any], now: dt.datetime) -> tuple[reports.Period, dict[str, str]]:
    return reports.parse_period(request.query_params.get("from", ""), request.query_params.get("to", ""), now)


def impact_csv(session: Session, period: reports.Period, now: dt.datetime) -> str:
    """The impact report as CSV, made whole in a worker process (a few dozen lines; the work is the report's SQL)."""
    return reports.report_csv(reports.impact_report(session, period, now=now))


# Heavy at scale (the report's statements count every partnership, event and organisation of the period): made in a
# worker process, as the dashboard is (architecture.md, Heavy requests).
@get("/reports", guards=[admin_guard], exception_handlers=offload.EXCEPTION_HANDLERS)
async def report_page(request: Request[Any, Any, Any], settings: AppSettings) -> Template:
    now = _now()
    period, errors = _period(request, now)
    report = await offload.run_in_session(settings, reports.impact_report, period, now=now)
    region_chart = charts.bar_chart(
        "VCSE organisations engaged, by region",
        list(report.vcse_by_region.items()) or [("None", 0)],
        description=f"{report.vcse_engaged} VCSE organisations engaged from {report.period.label}.",
    )
    stage_chart = charts.bar_chart(
        "Partnerships started, by current stage",
        [(STAGE_LABELS[k], v) for k, v in report.started_by_stage.items()],
        description=f"{report.partnerships_started} partnerships started from {report.period.label}.",
    )
    return Template(
        "admin/report.html",
        context={
            "report": report,
            "errors": errors,
            "raw_from": request.query_params.get("from", ""),
            "raw_to": request.query_params.get("to", ""),
            "region_chart": region_chart,
            "stage_chart": stage_chart,
            "stage_labels": STAGE_LABELS,
        },
    )


# Heavy at scale: made in a worker process (architecture.md, Heavy requests).
@get("/reports/impact.csv", guards=[admin_guard], exception_handlers=offload.EXCEPTION_HANDLERS)
async def report_csv(request: Request[Any, Any, Any], settings: AppSettings) -> Response[str]:
    now = _now()
    period, _ = _period(request, now)
    body = await offload.run_in_session(settings, impact_csv, period, now)
    name = f"impact-{period.start.isoformat()}-to-{period.end.isoformat()}.csv"
    return download(body, CSV, name)


# --- audit log ------------------------------------------------------------------------------------------------


@get("/audit", guards=[admin_guard], sync_to_thread=False)
def audit_page(request: Request[Any, Any, Any], db: DB) -> Template:
    params = ListParams.from_query(request.query_params.dict(), filter_names=audit_log.FILTERS)
    page, errors = audit_log.list_entries(db, params)
    context = {
        "page": page,
        "params": params,
        "sorts": audit_log.SORTS,
        "errors": errors,
        "entities": audit_log.ENTITY_CHOICES,
        "action_url": "/admin/audit",
        "link_for": audit_log.link_for,
    }
    return list_page(request, "admin/audit.html", "admin/audit_results.html", context)


route_handlers: list[Any] = admin_area(
    "/admin",
    [
        dashboard,
        report_page,
        report_csv,
        audit_page,
    ],
    guard=None,
)
