"""HTTP for partnership records (private: admins and editors): list, board, record pages, stage moves,
activity log; the JSON API under /api/v1/partnerships.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response, Router, delete, get, patch, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.history import history
from crm.partnerships import forms as pf
from crm.partnerships import schemas as sc
from crm.partnerships import services as ps
from crm.settings import Settings
from crm.timefmt import LONDON
from crm.web.auth import editor_guard
from crm.web.deps import DB, AppSettings, CurrentUser
from crm.web.errors import api_bad_body_handler, unprocessable
from crm.web.forms import Form, FormBody
from crm.web.listing import ListParams, is_htmx

NOTICES = {
    "started": "Partnership started from the suggestion. Add the academic side and the reciprocity below.",
    "moved": "Stage changed.",
    "activity": "Activity recorded.",
    "saved": "Changes saved.",
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _helpers(settings: Settings, now: dt.datetime) -> dict[str, Any]:
    return {
        "stages": list(ps.Stage),
        "stage_labels": ps.STAGE_LABELS,
        "healths": list(m.Health),
        "kinds": list(m.ActivityKind),
        "health": lambda row: ps.health_of(row.last_activity_at, row.created_at, now, settings).value,
        "overdue": lambda row: ps.is_overdue(row.next_step, row.next_step_due, row.stage, now),
        "can_move": ps.can_move,
        "now": now,
    }


# ---------------------------------------------------------------------------------------------------------
# Admin pages


@get("/", sync_to_thread=False)
def admin_list(request: Request[Any, Any, Any], db: DB, settings: AppSettings) -> Template:
    params = ListParams.from_query(request.query_params.dict(), filter_names=ps.FILTERS)
    now = _now()
    page = ps.list_partnerships(db, params, now=now, settings=settings)
    members = ps.member_names(db, [r.id for r in page.items])
    context = {**_helpers(settings, now), "page": page, "params": params, "sorts": ps.SORTS, "members": members}
    if is_htmx(request.headers):
        return Template("admin/partnership_results.html", context=context)
    return Template("admin/partnership_list.html", context={**context, **ps.choices(db)})


@get("/board", sync_to_thread=False)
def admin_board(db: DB, settings: AppSettings) -> Template:
    now = _now()
    columns = ps.board(db, now=now, settings=settings)
    ids = [r.id for rows in columns.values() for r in rows]
    return Template(
        "admin/partnership_board.html",
        context={**_helpers(settings, now), "columns": columns, "members": ps.member_names(db, ids)},
    )


def _form_context(db: Session, form: Form, p: m.Partnership | None) -> dict[str, Any]:
    return {
        "form": form,
        "p": p,
        **ps.choices(db),
        "stages": list(ps.Stage),
        "rows": pf.member_rows(form.data),
        "default_side": pf.default_side,
        "selected_topics": {str(v) for v in (form.data.get("topic_ids") or [])}
        if isinstance(form.data.get("topic_ids"), list)
        else {str(form.data.get("topic_ids"))}
        if form.data.get("topic_ids")
        else set(),
    }


@get("/new", sync_to_thread=False)
def admin_new(db: DB, organisation: FromQuery[str] = "", call: FromQuery[str] = "") -> Template:
    data: dict[str, Any] = {}
    org = db.get(m.Organisation, int(organisation)) if organisation.isdigit() else None
    if org is not None:
        side = "vcse" if org.kind == m.OrgKind.VCSE else "academic"
        index = 1 if side == "vcse" else 0
        data.update({f"member_side_{index}": side, f"member_org_{index}": str(org.id)})
    if call.isdigit():
        data["funding_call_id"] = call
    return Template("admin/partnership_form.html", context=_form_context(db, Form(data), None))


@post("/new", sync_to_thread=False)
def admin_create(db: DB, user: CurrentUser, data: FormBody) -> Template | Redirect:
    form = Form(data)
    values = pf.parse_form(form, with_stage=True)
    if form.ok:
        try:
            p = ps.create_partnership(db, user, values, now=_now())
        except ps.PartnershipError as exc:
            for key, message in exc.errors.items():
                form.add_error(key, message)
        else:
            return Redirect(f"/admin/partnerships/{p.id}", status_code=303)
    return Template("admin/partnership_form.html", context=_form_context(db, form, None), status_code=422)


def _get(db: Session, partnership_id: int) -> m.Partnership:
    p = ps.load(db, partnership_id)
    if p is None:
        raise NotFoundException("No such partnership.")
    return p


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
    now = _now()
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
            "health_now": ps.health_of(p.last_activity_at, p.created_at, now, settings).value,
            "is_overdue": ps.is_overdue(p.next_step, p.next_step_due, p.stage, now),
            "activities": ps.activities(db, p.id),
            "history": history(db, ps.ENTITY, p.id),
            "notice": NOTICES.get(notice, ""),
            "stage_form": stage_form or Form({}),
            "activity_form": activity_form or Form({"occurred_on": now.astimezone(LONDON).date().isoformat()}),
            "settings": settings,
        },
        status_code=status_code,
    )


@get("/{partnership_id:int}", sync_to_thread=False)
def admin_detail(db: DB, settings: AppSettings, partnership_id: FromPath[int], notice: FromQuery[str] = "") -> Template:
    return _detail(db, settings, _get(db, partnership_id), notice=notice)


@get("/{partnership_id:int}/edit", sync_to_thread=False)
def admin_edit(db: DB, partnership_id: FromPath[int]) -> Template:
    p = _get(db, partnership_id)
    return Template("admin/partnership_form.html", context=_form_context(db, Form(pf.form_values(p)), p))


@post("/{partnership_id:int}/edit", sync_to_thread=False)
def admin_update(db: DB, user: CurrentUser, partnership_id: FromPath[int], data: FormBody) -> Template | Redirect:
    p = _get(db, partnership_id)
    form = Form(data)
    values = pf.parse_form(form, with_stage=False)
    if form.ok:
        try:
            ps.update_partnership(db, user, p, values, now=_now())
        except ps.PartnershipError as exc:
            for key, message in exc.errors.items():
                form.add_error(key, message)
        else:
            return Redirect(f"/admin/partnerships/{p.id}?notice=saved", status_code=303)
    return Template("admin/partnership_form.html", context=_form_context(db, form, p), status_code=422)


@post("/{partnership_id:int}/stage", sync_to_thread=False)
def admin_move(
    db: DB, user: CurrentUser, settings: AppSettings, partnership_id: FromPath[int], data: FormBody
) -> Template | Redirect:
    """Move to another stage (from the board or the record page). An unusual move re-renders the record page
    asking for a reason, with the chosen stage kept."""
    p = _get(db, partnership_id)
    form = Form(data)
    target = form.choice("stage", {s.value for s in ps.Stage}, required=True, label="Stage")
    reason = form.str("reason", max_length=500, label="Reason")
    if form.ok:
        try:
            ps.move_stage(db, user, p, ps.Stage(target), reason=reason, now=_now())
        except ps.PartnershipError as exc:
            for key, message in exc.errors.items():
                form.add_error(key, message)
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
    p = _get(db, partnership_id)
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
            ps.add_activity(
                db, user, p, kind=m.ActivityKind(kind), occurred_at=when, summary=summary, now=_now(), settings=settings
            )
        except ps.PartnershipError as exc:
            for key, message in exc.errors.items():
                form.add_error("occurred_on" if key == "occurred_at" else key, message)
    if not form.ok:
        return _detail(db, settings, p, activity_form=form, status_code=422)
    return Redirect(f"/admin/partnerships/{p.id}?notice=activity", status_code=303)


@post("/{partnership_id:int}/activities/{activity_id:int}/delete", sync_to_thread=False)
def admin_delete_activity(
    db: DB, user: CurrentUser, partnership_id: FromPath[int], activity_id: FromPath[int]
) -> Redirect:
    p = _get(db, partnership_id)
    activity = db.get(m.PartnershipActivity, activity_id)
    if activity is None or activity.partnership_id != p.id:
        raise NotFoundException("No such activity.")
    ps.delete_activity(db, user, p, activity, now=_now())
    return Redirect(f"/admin/partnerships/{p.id}", status_code=303)


@post("/{partnership_id:int}/delete", sync_to_thread=False)
def admin_delete(db: DB, user: CurrentUser, partnership_id: FromPath[int]) -> Redirect:
    ps.delete_partnership(db, user, _get(db, partnership_id))
    return Redirect("/admin/partnerships", status_code=303)


admin_router = Router(
    path="/admin/partnerships",
    route_handlers=[
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
    guards=[editor_guard],
    include_in_schema=False,
)


# ---------------------------------------------------------------------------------------------------------
# JSON API (admins and editors)


def _out(db: Session, p: m.Partnership, settings: Settings) -> sc.PartnershipOut:
    now = _now()
    return sc.PartnershipOut(
        id=p.id,
        title=p.title,
        summary=p.summary,
        stage=p.stage.value,
        health=ps.health_of(p.last_activity_at, p.created_at, now, settings).value,
        funding_call_id=p.funding_call_id,
        start_date=p.start_date,
        end_date=p.end_date,
        academic_brings=p.academic_brings,
        academic_gets=p.academic_gets,
        vcse_brings=p.vcse_brings,
        vcse_gets=p.vcse_gets,
        next_step=p.next_step,
        next_step_due=p.next_step_due,
        next_step_overdue=ps.is_overdue(p.next_step, p.next_step_due, p.stage, now),
        last_activity_at=p.last_activity_at,
        members=[
            sc.Member(
                side=mem.side.value,
                organisation_id=mem.organisation_id,
                organisation=mem.organisation.name if mem.organisation else None,
                contact_id=mem.contact_id,
                contact=mem.contact.name if mem.contact else None,
                role=mem.role,
            )
            for mem in sorted(p.members, key=lambda x: x.id)
        ],
        topics=[t.slug for t in p.topics],
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


@get("/", sync_to_thread=False, summary="List partnerships")
def api_list(request: Request[Any, Any, Any], db: DB, settings: AppSettings) -> sc.PartnershipPage:
    """Filters: ``stage``, ``health`` (active, quiet, dormant), ``organisation`` (id), ``call`` (funding call id),
    ``overdue``=1, ``q``; ``sort`` (-activity, activity, due, title); keyset paging with ``cursor``."""
    params = ListParams.from_query(request.query_params.dict(), filter_names=ps.FILTERS)
    now = _now()
    page = ps.list_partnerships(db, params, now=now, settings=settings)
    return sc.PartnershipPage(
        items=[
            sc.PartnershipSummary(
                id=r.id,
                title=r.title,
                stage=r.stage.value,
                health=ps.health_of(r.last_activity_at, r.created_at, now, settings).value,
                funding_call_id=r.funding_call_id,
                next_step=r.next_step,
                next_step_due=r.next_step_due,
                last_activity_at=r.last_activity_at,
            )
            for r in page.items
        ],
        next_cursor=page.next_cursor,
        prev_cursor=page.prev_cursor,
    )


@get("/{partnership_id:int}", sync_to_thread=False, summary="Get a partnership")
def api_get(db: DB, settings: AppSettings, partnership_id: FromPath[int]) -> sc.PartnershipOut:
    return _out(db, _get(db, partnership_id), settings)


def _topic_ids(db: Session, slugs: list[str], errors: dict[str, str]) -> list[int]:
    found = {slug.lower(): tid for tid, slug in db.execute(select(m.Topic.id, m.Topic.slug))}
    ids = []
    for s in slugs:
        if s.lower() in found:
            ids.append(found[s.lower()])
        else:
            errors["topics"] = f"Unknown topic “{s}”."
    return ids


def _apply_api(db: Session, data: sc.PartnershipIn, base: ps.PartnershipInput) -> ps.PartnershipInput:
    errors: dict[str, str] = {}
    values = {f: getattr(data, f) for f in data.__struct_fields__ if getattr(data, f) is not sc.UNSET}
    out = ps.PartnershipInput(**{**base.__dict__})
    for name in (
        "title",
        "summary",
        "funding_call_id",
        "start_date",
        "end_date",
        "academic_brings",
        "academic_gets",
        "vcse_brings",
        "vcse_gets",
        "next_step",
        "next_step_due",
    ):
        if name in values:
            setattr(out, name, values[name])
    if "members" in values:
        members = []
        for i, mem in enumerate(values["members"]):
            if mem.side not in {s.value for s in m.Side}:
                errors["members"] = f"Member {i + 1}: side must be academic or vcse."
                continue
            members.append(ps.MemberInput(m.Side(mem.side), mem.organisation_id, mem.contact_id, mem.role))
        out.members = members
    if "topics" in values:
        out.topic_ids = _topic_ids(db, values["topics"], errors)
    if "stage" in values and values["stage"] not in {s.value for s in ps.Stage}:
        errors["stage"] = "Use one of: " + ", ".join(s.value for s in ps.Stage) + "."
    if errors:
        raise unprocessable(errors)
    return out


def _api_errors(errors: dict[str, str]) -> dict[str, str]:
    return {{"topic_ids": "topics", "reason": "stage_reason"}.get(k, k): v for k, v in errors.items()}


@post("/", sync_to_thread=False, summary="Create a partnership")
def api_create(
    db: DB, settings: AppSettings, user: CurrentUser, data: JSONBody[sc.PartnershipIn]
) -> Response[sc.PartnershipOut]:
    missing = {f: "This field is required." for f in ("title", "members") if getattr(data, f) is sc.UNSET}
    if missing:
        raise unprocessable(missing)
    values = _apply_api(db, data, ps.PartnershipInput(title=""))
    if data.stage is not sc.UNSET:
        values.stage = ps.Stage(data.stage)
    try:
        p = ps.create_partnership(db, user, values, now=_now())
    except ps.PartnershipError as exc:
        raise unprocessable(_api_errors(exc.errors)) from exc
    db.flush()
    db.expire(p)
    return Response(_out(db, _get(db, p.id), settings), status_code=201)


def _input_from(p: m.Partnership) -> ps.PartnershipInput:
    return ps.PartnershipInput(
        title=p.title,
        summary=p.summary,
        stage=p.stage,
        funding_call_id=p.funding_call_id,
        start_date=p.start_date,
        end_date=p.end_date,
        academic_brings=p.academic_brings,
        academic_gets=p.academic_gets,
        vcse_brings=p.vcse_brings,
        vcse_gets=p.vcse_gets,
        next_step=p.next_step,
        next_step_due=p.next_step_due,
        members=[ps.MemberInput(x.side, x.organisation_id, x.contact_id, x.role) for x in p.members],
        topic_ids=[t.id for t in p.topics],
    )


@patch("/{partnership_id:int}", sync_to_thread=False, summary="Change a partnership")
def api_update(
    db: DB, settings: AppSettings, user: CurrentUser, partnership_id: FromPath[int], data: JSONBody[sc.PartnershipIn]
) -> sc.PartnershipOut:
    p = _get(db, partnership_id)
    values = _apply_api(db, data, _input_from(p))
    now = _now()
    try:
        ps.update_partnership(db, user, p, values, now=now)
        if data.stage is not sc.UNSET:
            reason = data.stage_reason if data.stage_reason is not sc.UNSET else ""
            ps.move_stage(db, user, p, ps.Stage(data.stage), reason=reason, now=now)
    except ps.PartnershipError as exc:
        raise unprocessable(_api_errors(exc.errors)) from exc
    db.flush()
    db.expire(p)
    return _out(db, _get(db, partnership_id), settings)


@delete("/{partnership_id:int}", sync_to_thread=False, summary="Delete a partnership")
def api_delete(db: DB, user: CurrentUser, partnership_id: FromPath[int]) -> None:
    ps.delete_partnership(db, user, _get(db, partnership_id))


def _activity_out(a: m.PartnershipActivity) -> sc.ActivityOut:
    return sc.ActivityOut(
        id=a.id,
        kind=a.kind.value,
        occurred_at=a.occurred_at,
        summary=a.summary,
        recorded_by=a.recorded_by,
        created_at=a.created_at,
    )


@get("/{partnership_id:int}/activities", sync_to_thread=False, summary="A partnership's activity log")
def api_activities(db: DB, partnership_id: FromPath[int]) -> list[sc.ActivityOut]:
    if db.get(m.Partnership, partnership_id) is None:
        raise NotFoundException("No such partnership.")
    return [_activity_out(a) for a in ps.activities(db, partnership_id)]


@post("/{partnership_id:int}/activities", sync_to_thread=False, summary="Record an activity")
def api_add_activity(
    db: DB, settings: AppSettings, user: CurrentUser, partnership_id: FromPath[int], data: JSONBody[sc.ActivityIn]
) -> Response[sc.ActivityOut]:
    p = db.get(m.Partnership, partnership_id)
    if p is None:
        raise NotFoundException("No such partnership.")
    errors: dict[str, str] = {}
    if data.kind not in {k.value for k in m.ActivityKind}:
        errors["kind"] = "Use one of: " + ", ".join(k.value for k in m.ActivityKind) + "."
    if data.occurred_at.tzinfo is None:
        errors["occurred_at"] = "Give a time zone (e.g. 2026-11-20T10:00:00Z)."
    if errors:
        raise unprocessable(errors)
    try:
        activity = ps.add_activity(
            db,
            user,
            p,
            kind=m.ActivityKind(data.kind),
            occurred_at=data.occurred_at.astimezone(dt.UTC),
            summary=data.summary,
            now=_now(),
            settings=settings,
        )
    except ps.PartnershipError as exc:
        raise unprocessable(exc.errors) from exc
    return Response(_activity_out(activity), status_code=201)


api_router = Router(
    path="/api/v1/partnerships",
    route_handlers=[api_list, api_get, api_create, api_update, api_delete, api_activities, api_add_activity],
    guards=[editor_guard],
    tags=["partnerships"],
    exception_handlers={HTTPException: api_bad_body_handler},
)

route_handlers: list[Any] = [admin_router, api_router]
