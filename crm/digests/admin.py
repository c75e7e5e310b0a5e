"""Digest admin pages: the fellow's runs page and a subscriber's digest preview (sandboxed HTML)."""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from crm.digests import services
from crm.web.auth import admin_guard
from crm.web.deps import DB, AppSettings
from crm.web.pages import or_404
from crm.web.security import framed_email


@get("/admin/digests", guards=[admin_guard], sync_to_thread=False, include_in_schema=False)
def runs_page(db: DB, run: FromQuery[int | None] = None) -> Template:
    runs = services.recent_runs(db)
    failures = services.run_failures(db, run) if run else []
    active = services.has_active_subscribers(db)
    return Template(
        "admin/digests.html",
        context={"runs": runs, "failures": failures, "failures_run": run, "has_active": active},
    )


def _preview(db: DB, settings: AppSettings, subscription_id: int) -> services.Preview:
    return or_404(services.preview(db, settings, subscription_id), "No subscription with this id.")


@get(
    "/admin/digests/preview/{subscription_id:int}", guards=[admin_guard], sync_to_thread=False, include_in_schema=False
)
def preview_page(db: DB, settings: AppSettings, subscription_id: FromPath[int]) -> Template:
    result = _preview(db, settings, subscription_id)
    return Template(
        "admin/digest_preview.html",
        context={"p": result, "sub": result.subscription, "section_title": services.section_title},
    )


@get(
    "/admin/digests/preview/{subscription_id:int}/html",
    guards=[admin_guard],
    sync_to_thread=False,
    include_in_schema=False,
)
def preview_html(db: DB, settings: AppSettings, subscription_id: FromPath[int]) -> Response[Any]:
    result = _preview(db, settings, subscription_id)
    body = result.rendered.html if result.rendered else f"<p>{result.reason}</p>"
    return framed_email(body)


route_handlers: list[Any] = [runs_page, preview_page, preview_html]
