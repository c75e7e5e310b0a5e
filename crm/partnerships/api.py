"""The partnerships JSON API (/api/v1/partnerships, admins and editors): records, stage moves and activities."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response, delete, get, patch, post
from litestar.params import FromPath, JSONBody
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.listing import ListParams
from crm.partnerships import changes, queries, rules, views
from crm.partnerships import schemas as sc
from crm.settings import Settings
from crm.web.areas import api_area
from crm.web.auth import editor_guard
from crm.web.deps import DB, AppSettings, CurrentUser
from crm.web.errors import unprocessable
from crm.web.pages import api_page


def _out(db: Session, p: m.Partnership, settings: Settings) -> sc.PartnershipOut:
    now = views.now()
    return sc.PartnershipOut(
        id=p.id,
        **{name: getattr(p, name) for name in rules.PLAIN_FIELDS},
        stage=p.stage.value,
        health=rules.health_of(p.last_activity_at, p.created_at, now, settings).value,
        next_step_overdue=rules.is_overdue(p.next_step, p.next_step_due, p.stage, now),
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
def api_list(request: Request[Any, Any, Any], db: DB, user: CurrentUser, settings: AppSettings) -> sc.PartnershipPage:
    """Filters: ``stage``, ``health`` (active, quiet, dormant), ``organisation`` (id), ``call`` (funding call id),
    ``overdue``=1, ``q``; ``sort`` (-activity, activity, due, title); keyset paging with ``cursor``."""
    params = ListParams.from_query(request.query_params.dict(), filter_names=queries.FILTERS)
    now = views.now()
    page = queries.list_partnerships(db, params, now=now, settings=settings, actor=user)
    return api_page(
        sc.PartnershipPage,
        page,
        lambda r: sc.PartnershipSummary(
            id=r.id,
            title=r.title,
            stage=r.stage.value,
            health=rules.health_of(r.last_activity_at, r.created_at, now, settings).value,
            funding_call_id=r.funding_call_id,
            next_step=r.next_step,
            next_step_due=r.next_step_due,
            last_activity_at=r.last_activity_at,
        ),
    )


@get("/{partnership_id:int}", sync_to_thread=False, summary="Get a partnership")
def api_get(db: DB, user: CurrentUser, settings: AppSettings, partnership_id: FromPath[int]) -> sc.PartnershipOut:
    return _out(db, views.partnership_or_404(db, partnership_id, user), settings)


def _topic_ids(db: Session, slugs: list[str], errors: dict[str, str]) -> list[int]:
    found = {slug.lower(): tid for tid, slug in db.execute(select(m.Topic.id, m.Topic.slug))}
    ids = []
    for s in slugs:
        if s.lower() in found:
            ids.append(found[s.lower()])
        else:
            errors["topics"] = f"Unknown topic “{s}”."
    return ids


def _apply_api(db: Session, data: sc.PartnershipIn, base: rules.PartnershipInput) -> rules.PartnershipInput:
    errors: dict[str, str] = {}
    values = {f: getattr(data, f) for f in data.__struct_fields__ if getattr(data, f) is not sc.UNSET}
    out = rules.PartnershipInput(**{**base.__dict__})
    for name in rules.PLAIN_FIELDS:
        if name in values:
            setattr(out, name, values[name])
    if "members" in values:
        members = []
        for i, mem in enumerate(values["members"]):
            if mem.side not in {s.value for s in m.Side}:
                errors["members"] = f"Member {i + 1}: side must be academic or vcse."
                continue
            members.append(rules.MemberInput(m.Side(mem.side), mem.organisation_id, mem.contact_id, mem.role))
        out.members = members
    if "topics" in values:
        out.topic_ids = _topic_ids(db, values["topics"], errors)
    if "stage" in values and values["stage"] not in {s.value for s in rules.Stage}:
        errors["stage"] = "Use one of: " + ", ".join(s.value for s in rules.Stage) + "."
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
    values = _apply_api(db, data, rules.PartnershipInput(title=""))
    if data.stage is not sc.UNSET:
        values.stage = rules.Stage(data.stage)
    try:
        p = changes.create_partnership(db, user, values, now=views.now())
    except rules.PartnershipError as exc:
        raise unprocessable(_api_errors(exc.errors)) from exc
    db.flush()
    db.expire(p)
    return Response(_out(db, views.partnership_or_404(db, p.id, user), settings), status_code=201)


def _input_from(p: m.Partnership) -> rules.PartnershipInput:
    return rules.PartnershipInput(
        **{name: getattr(p, name) for name in rules.PLAIN_FIELDS},
        stage=p.stage,
        members=[rules.MemberInput(x.side, x.organisation_id, x.contact_id, x.role) for x in p.members],
        topic_ids=[t.id for t in p.topics],
    )


@patch("/{partnership_id:int}", sync_to_thread=False, summary="Change a partnership")
def api_update(
    db: DB, settings: AppSettings, user: CurrentUser, partnership_id: FromPath[int], data: JSONBody[sc.PartnershipIn]
) -> sc.PartnershipOut:
    p = views.partnership_or_404(db, partnership_id, user)
    values = _apply_api(db, data, _input_from(p))
    now = views.now()
    try:
        changes.update_partnership(db, user, p, values, now=now)
        if data.stage is not sc.UNSET:
            reason = data.stage_reason if data.stage_reason is not sc.UNSET else ""
            changes.move_stage(db, user, p, rules.Stage(data.stage), reason=reason, now=now)
    except rules.PartnershipError as exc:
        raise unprocessable(_api_errors(exc.errors)) from exc
    db.flush()
    db.expire(p)
    return _out(db, views.partnership_or_404(db, partnership_id, user), settings)


@delete("/{partnership_id:int}", sync_to_thread=False, summary="Delete a partnership")
def api_delete(db: DB, user: CurrentUser, partnership_id: FromPath[int]) -> None:
    changes.delete_partnership(db, user, views.partnership_or_404(db, partnership_id, user))


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
def api_activities(db: DB, user: CurrentUser, partnership_id: FromPath[int]) -> list[sc.ActivityOut]:
    views.partnership_or_404(db, partnership_id, user)
    return [_activity_out(a) for a in queries.activities(db, partnership_id)]


@post("/{partnership_id:int}/activities", sync_to_thread=False, summary="Record an activity")
def api_add_activity(
    db: DB, settings: AppSettings, user: CurrentUser, partnership_id: FromPath[int], data: JSONBody[sc.ActivityIn]
) -> Response[sc.ActivityOut]:
    p = views.partnership_or_404(db, partnership_id, user)
    errors: dict[str, str] = {}
    if data.kind not in {k.value for k in m.ActivityKind}:
        errors["kind"] = "Use one of: " + ", ".join(k.value for k in m.ActivityKind) + "."
    if data.occurred_at.tzinfo is None:
        errors["occurred_at"] = "Give a time zone (e.g. 2026-11-20T10:00:00Z)."
    if errors:
        raise unprocessable(errors)
    try:
        activity = changes.add_activity(
            db,
            user,
            p,
            kind=m.ActivityKind(data.kind),
            occurred_at=data.occurred_at.astimezone(dt.UTC),
            summary=data.summary,
            now=views.now(),
            settings=settings,
        )
    except rules.PartnershipError as exc:
        raise unprocessable(exc.errors) from exc
    return Response(_activity_out(activity), status_code=201)


route_handlers: list[Any] = api_area(
    "/api/v1/partnerships",
    [api_list, api_get, api_create, api_update, api_delete, api_activities, api_add_activity],
    tag="partnerships",
    guard=editor_guard,
)
