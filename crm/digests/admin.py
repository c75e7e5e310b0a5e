"""Digest admin pages: the fellow's runs page (run a period now: check, then confirm; find whose preview to see)
and a subscriber's digest preview (sandboxed HTML)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from crm.digests import manual, services
from crm.web.auth import admin_guard
from crm.web.deps import DB, AppSettings, CurrentUser
from crm.web.forms import Form, FormBody
from crm.web.pages import notice as notice_text
from crm.web.pages import or_404
from crm.web.security import framed_email


@get("/admin/digests", guards=[admin_guard], sync_to_thread=False, include_in_schema=False)
def runs_page(
    db: DB, run: FromQuery[int | None] = None, who: FromQuery[str] = "", notice: FromQuery[str] = ""
) -> Template:
    return _runs_page(db, run=run, who=who, notice=notice_text(notice, NOTICES))


def _runs_page(
    db: DB, *, run: int | None = None, who: str = "", notice: str = "", form: Form | None = None
) -> Template:
    """The runs page; with ``form``, the run form came back with a message (422)."""
    runs = services.recent_runs(db)
    return Template(
        "admin/digests.html",
        context={
            "runs": runs,
            "shards": services.shard_progress(db, [r.id for r in runs]),
            "run_shards": services.run_shards(db, run) if run else [],
            "failures": services.run_failures(db, run) if run else [],
            "failures_run": run,
            "has_active": services.has_active_subscribers(db),
            "choices": manual.choices(_now()),
            "who": who[:200],
            "found": manual.find_subscribers(db, who[:200]),
            "notice": notice,
            "form": form or Form({}),
        },
        status_code=422 if form is not None and not form.ok else 200,
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


NOTICES = {"started": "The run has started. Refresh this page to see it under Runs."}


def _chosen(form: Form) -> manual.Choice | None:
    choice = manual.choice_for(form.str("period", max_length=20), _now())
    if choice is None:
        form.add_error("period", "Choose one of the periods offered.")
    return choice


@post("/admin/digests/check", guards=[admin_guard], sync_to_thread=False, include_in_schema=False)
def check_run(db: DB, data: FormBody) -> Template | Redirect:
    """The confirmation step: what running this period now would do, counted before anything is queued."""
    form = Form(data)
    choice = _chosen(form)
    if choice is None:
        return _runs_page(db, form=form)
    return Template("admin/digest_run_confirm.html", context={"c": manual.check(db, choice)})


@post("/admin/digests/run", guards=[admin_guard], sync_to_thread=False, include_in_schema=False)
def start_run(db: DB, state: State, settings: AppSettings, user: CurrentUser, data: FormBody) -> Template | Redirect:
    form = Form(data)
    choice = _chosen(form)
    if choice is None:
        return _runs_page(db, form=form)
    manual.start_run(state.session_factory, settings, choice, actor=user.email if user else "admin")
    return Redirect("/admin/digests?notice=started", status_code=303)


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


route_handlers: list[Any] = [runs_page, check_run, start_run, preview_page, preview_html]
