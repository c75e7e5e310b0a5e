"""The internships JSON API (/api/v1/internships): public reads of open listings, writes for host editors and
the fellow, and registrations of interest for those allowed to see them.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import msgspec
from litestar import MediaType, Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, JSONBody
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import filter_choices
from crm import models as m
from crm.api.openapi import PUBLIC_READ
from crm.api.responses import encode_json, json_response
from crm.internships import services, views
from crm.internships.schemas import InterestOut, InternshipIn, InternshipOut, InternshipPage, InternshipPatch
from crm.listing import ListParams
from crm.web.areas import api_area
from crm.web.auth import Principal, current_user, editor_guard
from crm.web.deps import DB, AppSettings, CurrentUser
from crm.web.errors import unprocessable
from crm.web.httpcache import ANONYMOUS_JSON
from crm.web.pages import api_attempt, api_page


def _can_see_private(user: Principal | None, org_id: int) -> bool:
    return services.can_manage_org(user, org_id)


class _DetailRow:
    """A loaded internship with its host and region names, shaped like a list row for ``_out_row``."""

    def __init__(self, detail: services.Detail) -> None:
        self._internship = detail.internship
        self.host_name = detail.host_name
        self.region_name = detail.region_name or None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._internship, name)


def _out(db: Session, settings: Any, detail: services.Detail, *, private: bool = False) -> InternshipOut:
    i = detail.internship
    out = _out_row(settings.base_url.rstrip("/"), _DetailRow(detail))
    out.description = i.description
    out.apply_url = i.apply_url
    out.apply_email = i.apply_email
    out.topics = [t.slug for t in detail.topics]
    out.career_stages = detail.stages
    if private:
        out.host_contact_name = i.host_contact_name
        out.host_contact_email = i.host_contact_email
        out.review_note = i.review_note
        out.interest_count = db.scalar(
            select(func.count(m.InternshipInterest.id)).where(m.InternshipInterest.internship_id == i.id)
        )
    return out


def _api_detail(db: Session, settings: Any, user: Principal | None, internship_id: int) -> InternshipOut:
    detail = services.detail_by_id(db, internship_id)
    private = _can_see_private(user, detail.internship.host_organisation_id)
    if detail.internship.status not in services.PUBLIC_STATUSES and not private:
        raise NotFoundException("No such internship.")
    return _out(db, settings, detail, private=private)


def public_list_json(request: Request[Any, Any, Any]) -> bytes:
    """The public list as anonymous visitors get it, encoded: what ``api_list`` answers them, and what the cheap
    path of anonymous GETs sends without the handler (``crm.web.httpcache.ANONYMOUS_JSON``). It reads on a pooled
    connection (no session, no transaction to commit; a search opens a session on it) and encodes the page once."""
    state = request.app.state
    base = state.settings.base_url.rstrip("/")
    params = ListParams.from_query(
        request.query_params.dict(), filter_names=services.FILTER_NAMES, multi=services.MULTI_FILTERS
    )
    with state.engine.connect() as connection:
        unknown = services.unknown_filters(connection, params)
        if unknown:  # a 422 problem naming each (crm.filter_choices): never a list for a question nobody asked
            raise unprocessable(filter_choices.api_messages(unknown))
        page = services.public_list(connection, params, now=views.now())
    return encode_json(api_page(InternshipPage, page, lambda r: _out_card(base, r)))


@get(
    "/",
    sync_to_thread=False,
    summary="List internships",
    security=PUBLIC_READ,
    opt={ANONYMOUS_JSON: public_list_json},
)
def api_list(request: Request[Any, Any, Any]) -> Response[InternshipPage]:
    """Published listings that are still open, with the same filters as /internships (``direction``, ``topic``,
    ``region``, ``mode``, ``paid``, ``hours``, ``closing_within``, ``stage``, ``q``, ``sort``=closing|newest)
    and keyset paging: pass ``next_cursor`` back as ``cursor``. Editors and the fellow may pass ``status`` to
    list their own (or all) listings in any status. A direction, pay, stage, mode, topic or region the list does
    not offer is a 422 problem naming it."""
    # No dependencies (each costs Litestar a resolution step) and no transaction to commit: the list only reads
    # (the editors' in a session that is closed, never committed). Anonymous visitors are answered by
    # ``public_list_json`` before this handler runs, unless they ask past the cache.
    user = current_user(request)
    query = request.query_params.dict()
    if query.get("status") and user is not None and user.has_role(m.Role.EDITOR):
        base = request.app.state.settings.base_url.rstrip("/")
        with request.app.state.session_factory() as db:
            page = services.admin_list(db, user, ListParams.from_query(query, filter_names=("status",)))
        counted = bool(page.items) and "interest_count" in page.items[0]._fields
        return json_response(api_page(InternshipPage, page, lambda r: _out_row(base, r, counted=counted)))
    return Response(public_list_json(request), media_type=MediaType.JSON)


@functools.lru_cache(maxsize=4096)
def _stipend(paid: bool, pence: int | None, period: m.StipendPeriod | None) -> str:
    """The stipend label of a list row: a handful of distinct terms repeat on every page."""
    return services.stipend_label(_Terms(paid, pence, period))


class _Terms(NamedTuple):
    paid: bool
    stipend_pence: int | None
    stipend_period: m.StipendPeriod | None


def _out_card(base: str, r: Any) -> InternshipOut:
    """A public list row read by position, in the order ``queries._cards`` selects (reading 19 fields by name cost
    a tenth of a list request); ``_out_row`` is the same conversion by name. The enums go in as they are: they are
    ``StrEnum`` members, equal to their values and encoded as them."""
    rid, title, slug, direction, mode, paid, pence, period, hours, closing_date, closes_at, published_at = r[:12]
    host_name, region_name, duration, status, host_id = r[12:17]
    return InternshipOut(
        rid,
        slug,
        title,
        f"{base}/internships/{slug}",
        host_id,
        host_name,
        direction,
        mode,
        paid,
        pence,
        period,
        _stipend(paid, pence, period),
        hours,
        duration,
        closing_date,
        closes_at,
        status,
        region_name,
        published_at,
    )


def _out_row(base: str, r: Any, *, counted: bool = False) -> InternshipOut:
    """``counted``: the row carries ``interest_count`` (the admin list); looking for it on every row cost more
    than the rest of the conversion."""
    return InternshipOut(
        id=r.id,
        slug=r.slug,
        title=r.title,
        url=f"{base}/internships/{r.slug}",
        host_organisation_id=r.host_organisation_id,
        host_name=r.host_name,
        direction=r.direction.value,
        mode=r.mode.value,
        paid=r.paid,
        stipend_pence=r.stipend_pence,
        stipend_period=r.stipend_period.value if r.stipend_period else None,
        stipend=services.stipend_label(r),
        hours_per_week=r.hours_per_week,
        duration=r.duration,
        closing_date=r.closing_date,
        closes_at=r.closes_at,
        status=r.status.value,
        region=r.region_name,
        published_at=r.published_at,
        interest_count=r.interest_count if counted else None,
    )


@get("/{internship_id:int}", sync_to_thread=False, summary="Get one internship", security=PUBLIC_READ)
def api_get(db: DB, settings: AppSettings, user: CurrentUser, internship_id: FromPath[int]) -> InternshipOut:
    """Public for published, closed and filled listings; drafts and submitted ones only for their host's
    editors and the fellow (who also see the host contact and the number of registrations of interest)."""
    return _api_detail(db, settings, user, internship_id)


@post("/", sync_to_thread=False, guards=[editor_guard], summary="Create an internship")
def api_create(
    state: State, db: DB, settings: AppSettings, user: CurrentUser, data: JSONBody[InternshipIn]
) -> Response[InternshipOut]:
    """Editors post for their own organisation only (403 otherwise); their listings wait for the fellow's
    approval (``status`` = submitted when ``publish`` is true, draft otherwise). Bad fields: 422 with
    ``errors`` [{field, message}]."""
    actor = views.actor(user)
    services.require_org(actor, data.host_organisation_id)
    raw = msgspec.structs.asdict(data)
    publish = bool(raw.pop("publish"))
    cleaned = api_attempt(lambda: services.validate(db, raw, now=views.now()))
    internship = services.create_internship(db, actor, cleaned, now=views.now(), publish=publish)
    views.notify(state, db, internship, None)
    return Response(_api_detail(db, settings, actor, internship.id), status_code=201)


@patch("/{internship_id:int}", sync_to_thread=False, guards=[editor_guard], summary="Change an internship")
def api_update(
    state: State,
    db: DB,
    settings: AppSettings,
    user: CurrentUser,
    internship_id: FromPath[int],
    data: JSONBody[InternshipPatch],
) -> InternshipOut:
    actor = views.actor(user)
    internship = services.get_internship(db, internship_id)
    services.require_org(actor, internship.host_organisation_id)
    raw = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    action = raw.pop("action", None)
    note = raw.pop("note", "") or ""
    if isinstance(raw.get("host_organisation_id"), int):
        services.require_org(actor, raw["host_organisation_id"])
    before = internship.status
    if raw:
        cleaned = api_attempt(lambda: services.validate(db, raw, now=views.now(), existing=internship, partial=True))
        services.update_internship(db, actor, internship, cleaned, now=views.now())
    if action:
        if action not in services.TRANSITIONS:
            raise unprocessable({"action": "Use one of: " + ", ".join(services.TRANSITIONS)})
        try:
            services.transition(db, actor, internship, action, now=views.now(), note=note)
        except services.TransitionError as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from exc
    views.notify(state, db, internship, before, action or "")
    return _api_detail(db, settings, actor, internship.id)


@delete("/{internship_id:int}", sync_to_thread=False, guards=[editor_guard], summary="Delete an internship")
def api_delete(db: DB, user: CurrentUser, internship_id: FromPath[int]) -> None:
    actor = views.actor(user)
    internship = services.get_internship(db, internship_id)
    services.delete_internship(db, actor, internship)


@get("/{internship_id:int}/interests", sync_to_thread=False, guards=[editor_guard], summary="Registrations of interest")
def api_interests(db: DB, user: CurrentUser, internship_id: FromPath[int]) -> list[InterestOut]:
    """Personal data: only for the fellow and the host organisation's editors."""
    actor = views.actor(user)
    internship = services.get_internship(db, internship_id)
    rows = services.interests_for(db, actor, internship)
    return [
        InterestOut(id=r.id, name=r.name, email=r.email, note=r.note, created_at=r.created_at, status=r.status.value)
        for r in rows
    ]


route_handlers: list[Any] = api_area(
    "/api/v1/internships", [api_list, api_get, api_create, api_update, api_delete, api_interests], tag="internships"
)
