"""The partnership admin pages (/admin/partnerships, admins and editors): list, board, record pages, stage moves
and the activity log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.principal import Principal
from crm.bulk import actions as bulk
from crm.bulk import kinds as bulk_kinds
from crm.history import history
from crm.involvement import records as involvement_records
from crm.listing import ListParams
from crm.partnerships import changes, queries, rules, views
from crm.partnerships import forms as pf
from crm.settings import Settings
from crm.timefmt import LONDON
from crm.views_saved import saved
from crm.web.areas import admin_area
from crm.web.auth import editor_guard
from crm.web.deps import DB, AppSettings, CurrentUser
from crm.web.forms import Form, FormBody
from crm.web.pages import attempt, form_page, list_page
from crm.web.pages import notice as notice_text

NOTICES = {
    "started": "Partnership started from the suggestion. Add the academic side and the reciprocity below.",
    "moved": "Stage changed.",
    "activity": "Activity recorded.",
    "saved": "Changes saved.",
}


def _helpers(settings: Settings, now: dt.datetime) -> dict[str, Any]:
    return {
        "stages": list(rules.Stage),
        "stage_labels": rules.STAGE_LABELS,
        "healths": list(m.Health),
        "kinds": list(m.ActivityKind),
        "health": lambda row: rules.health_of(row.last_activity_at, row.created_at, now, settings).value,
        "overdue": lambda row: rules.is_overdue(row.next_step, row.next_step_due, row.stage, now),
        "can_move": rules.can_move,
        "now": now,
    }


@get("/", sync_to_thread=False)
def admin_list(request: Request[Any, Any, Any], db: DB, user: CurrentUser, settings: AppSettings) -> Template:
    params = ListParams.from_query(request.query_params.dict(), filter_names=queries.FILTERS)
    now = views.now()
    page = queries.list_partnerships(db, params, now=now, settings=settings, actor=user, count=True)
    members = queries.member_names(db, [r.id for r in page.items])
    context = {
        **_helpers(settings, now),
        "page": page,
        "params": params,
        "sorts": queries.SORTS,
        "members": members,
        "bulk_actions": bulk.offered(bulk_kinds.PARTNERSHIPS, user),
    }
    return list_page(
        request,
        "admin/partnership_list.html",
        "admin/partnership_results.html",
        context,
        page_only=lambda: {
            **queries.choices(db, user),
            "my_views": saved.views_for(db, user, "partnerships"),
            "bulk_topics": bulk.topic_choices(db),
        },
    )


@get("/board", sync_to_thread=False)
def admin_board(db: DB, user: CurrentUser, settings: AppSettings) -> Template:
    now = views.now()
    columns = queries.board(db, now=now, settings=settings, actor=user)
    ids = [r.id for rows in columns.values() for r in rows]
    return Template(
        "admin/partnership_board.html",
        context={**_helpers(settings, now), "columns": columns, "members": queries.member_names(db, ids)},
    )


def _form(db: Session, user: Principal | None, form: Form, p: m.Partnership | None) -> Template:
    return form_page("admin/partnership_form.html", _form_context(db, user, form, p), form=form)


def _form_context(db: Session, user: Principal | None, form: Form, p: m.Partnership | None) -> dict[str, Any]:
    members = [mem.contact_id for mem in p.members if mem.contact_id] if p is not None else []
    return {
        "p": p,
        **queries.choices(db, user, members),
        "stages": list(rules.Stage),
        "rows": pf.member_rows(form.data),
        "default_side": pf.default_side,
        "selected_topics": {str(v) for v in (form.data.get("topic_ids") or [])}
        if isinstance(form.data.get("topic_ids"), list)
        else {str(form.data.get("topic_ids"))}
        if form.data.get("topic_ids")
        else set(),
    }


@get("/new", sync_to_thread=False)
def admin_new(db: DB, user: CurrentUser, organisation: FromQuery[str] = "", call: FromQuery[str] = "") -> Template:
    data: dict[str, Any] = {}
    if not organisation and not rules.sees_all(user) and user.organisation_id:
        organisation = str(user.organisation_id)  # an editor's partnership always includes their organisation
    org = db.get(m.Organisation, int(organisation)) if organisation.isdigit() else None
    if org is not None:
        side = "vcse" if org.kind == m.OrgKind.VCSE else "academic"
        index = 1 if side == "vcse" else 0
        data.update({f"member_side_{index}": side, f"member_org_{index}": str(org.id)})
    if call.isdigit():
        data["funding_call_id"] = call
    return _form(db, user, Form(data), None)


@post("/new", sync_to_thread=False)
def admin_create(db: DB, user: CurrentUser, data: FormBody) -> Template | Redirect:
    form = Form(data)
    values = pf.parse_form(form, with_stage=True)
    p = attempt(form, lambda: changes.create_partnership(db, user, values, now=views.now()))
    if p is None:
        return _form(db, user, form, None)
    return Redirect(f"/admin/partnerships/{p.id}", status_code=303)


def _detail(
    db: Session,
    settings: Settings,
    p: m.Partnership,
    *,
    notice: str = "",
    stage_form: Form | None = None,
    activity_form: Form | None = None,
    status_code: int = 200,
) -> Template:
    now = views.now()
    call = db.get(m.FundingCall, p.funding_call_id) if p.funding_call_id else None
    sides = {"academic": [], "vcse": []}  # type: dict[str, list[m.PartnershipMember]]
    for mem in sorted(p.members, key=lambda x: x.id):
        sides[mem.side.value].append(mem)
    return Template(
        "admin/partnership_detail.html",
        context={
            **_helpers(settings, now),
            "p": p,
            "call": call,
            "sides": sides,
            "health_now": rules.health_of(p.last_activity_at, p.created_at, now, settings).value,
            "is_overdue": rules.is_overdue(p.next_step, p.next_step_due, p.stage, now),
            "activities": queries.activities(db, p.id),
            # The record of involvement in this partnership (shown to the fellow only: it names people).
            "involvement": involvement_records.for_owner(db, partnership_id=p.id),
            "history": history(db, rules.ENTITY, p.id),
            "notice": notice_text(notice, NOTICES),
            "stage_form": stage_form or Form({}),
            "activity_form": activity_form or Form({"occurred_on": now.astimezone(LONDON).date().isoformat()}),
            "settings": settings,
        },
        status_code=status_code,
    )


@get("/{partnership_id:int}", sync_to_thread=False)
def admin_detail(
    db: DB, user: CurrentUser, settings: AppSettings, partnership_id: FromPath[int], notice: FromQuery[str] = ""
) -> Template:
    return _detail(db, settings, views.partnership_or_404(db, partnership_id, user), notice=notice)


@get("/{partnership_id:int}/edit", sync_to_thread=False)
def admin_edit(db: DB, user: CurrentUser, partnership_id: FromPath[int]) -> Template:
    p = views.partnership_or_404(db, partnership_id, user)
    return _form(db, user, Form(pf.form_values(p)), p)


@post("/{partnership_id:int}/edit", sync_to_thread=False)
def admin_update(db: DB, user: CurrentUser, partnership_id: FromPath[int], data: FormBody) -> Template | Redirect:
    p = views.partnership_or_404(db, partnership_id, user)
    form = Form(data)
    values = pf.parse_form(form, with_stage=False)
    attempt(form, lambda: changes.update_partnership(db, user, p, values, now=views.now()))
    if not form.ok:
        return _form(db, user, form, p)
    return Redirect(f"/admin/partnerships/{p.id}?notice=saved", status_code=303)


@post("/{partnership_id:int}/stage", sync_to_thread=False)
def admin_move(
    db: DB, user: CurrentUser, settings: AppSettings, partnership_id: FromPath[int], data: FormBody
) -> Template | Redirect:
    """Move to another stage (from the board or the record page). An unusual move re-renders the record page
    asking for a reason, with the chosen stage kept."""
    p = views.partnership_or_404(db, partnership_id, user)
    form = Form(data)
    target = form.choice("stage", {s.value for s in rules.Stage}, required=True, label="Stage")
    reason = form.str("reason", max_length=500, label="Reason")
    attempt(form, lambda: changes.move_stage(db, user, p, rules.Stage(target), reason=reason, now=views.now()))
    if not form.ok:
        return _detail(db, settings, p, stage_form=form, status_code=422)
    back = form.str("back")
    if back == "board":
        return Redirect("/admin/partnerships/board", status_code=303)
    return Redirect(f"/admin/partnerships/{p.id}?notice=moved", status_code=303)


@post("/{partnership_id:int}/activities", sync_to_thread=False)
def admin_add_activity(
    db: DB, user: CurrentUser, settings: AppSettings, partnership_id: FromPath[int], data: FormBody
) -> Template | Redirect:
    p = views.partnership_or_404(db, partnership_id, user)
    form = Form(data)
    kind = form.choice("kind", {k.value for k in m.ActivityKind}, required=True, label="Kind")
    day = form.date("occurred_on", required=True, label="Date")
    time_raw = form.str("occurred_time", max_length=5)
    summary = form.str("summary", required=True, max_length=5000, label="Summary")
    when = None
    if day is not None:
        try:
            t = dt.time.fromisoformat(time_raw) if time_raw else dt.time(12, 0)
        except ValueError:
            form.add_error("occurred_time", "Enter a time like 14:30, or leave it empty.")
            t = dt.time(12, 0)
        when = dt.datetime.combine(day, t, tzinfo=LONDON).astimezone(dt.UTC)
    if form.ok and when is not None:
        try:
            changes.add_activity(
                db,
                user,
                p,
                kind=m.ActivityKind(kind),
                occurred_at=when,
                summary=summary,
                now=views.now(),
                settings=settings,
            )
        except rules.PartnershipError as exc:
            for key, message in exc.errors.items():
                form.add_error("occurred_on" if key == "occurred_at" else key, message)
    if not form.ok:
        return _detail(db, settings, p, activity_form=form, status_code=422)
    return Redirect(f"/admin/partnerships/{p.id}?notice=activity", status_code=303)


@post("/{partnership_id:int}/activities/{activity_id:int}/delete", sync_to_thread=False)
def admin_delete_activity(
    db: DB, user: CurrentUser, partnership_id: FromPath[int], activity_id: FromPath[int]
) -> Redirect:
    p = views.partnership_or_404(db, partnership_id, user)
    activity = db.get(m.PartnershipActivity, activity_id)
    if activity is None or activity.partnership_id != p.id:
        raise NotFoundException("No such activity.")
    changes.delete_activity(db, user, p, activity, now=views.now())
    return Redirect(f"/admin/partnerships/{p.id}", status_code=303)


@post("/{partnership_id:int}/delete", sync_to_thread=False)
def admin_delete(db: DB, user: CurrentUser, partnership_id: FromPath[int]) -> Redirect:
    changes.delete_partnership(db, user, views.partnership_or_404(db, partnership_id, user))
    return Redirect("/admin/partnerships", status_code=303)


route_handlers: list[Any] = admin_area(
    "/admin/partnerships",
    [
        admin_list,
        admin_board,
        admin_new,
        admin_create,
        admin_detail,
        admin_edit,
        admin_update,
        admin_move,
        admin_add_activity,
        admin_delete_activity,
        admin_delete,
    ],
    guard=editor_guard,
)
