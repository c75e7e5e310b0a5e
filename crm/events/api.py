"""The events JSON API (/api/v1/events): published events for anyone, drafts, changes and invitations for admins."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from litestar import MediaType, Request, Response, get, patch, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, JSONBody
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.api.openapi import PUBLIC_READ
from crm.api.responses import encode_json, json_response
from crm.events import attendees, audience, by_address, lifecycle, listing, rsvp, views
from crm.events.schemas import (
    EventIn,
    EventOut,
    EventPage,
    EventPatch,
    InvitationList,
    InvitationOut,
    InvitationsIn,
    InvitationsSent,
)
from crm.listing import ListParams
from crm.validation import split_url
from crm.web.areas import api_area
from crm.web.auth import Principal, admin_guard, current_user
from crm.web.deps import DB, AppSettings, CurrentUser
from crm.web.errors import unprocessable
from crm.web.httpcache import ANONYMOUS_JSON
from crm.web.pages import api_page, get_or_404


def _out(settings: Any, r: Any, counts: dict[str, int] | None = None) -> EventOut:
    return EventOut(
        id=r.id,
        slug=r.slug,
        title=r.title,
        url=f"{settings.base_url.rstrip('/')}/events/{r.slug}",
        description=r.description,
        starts_at=r.starts_at,
        ends_at=r.ends_at,
        all_day=r.all_day,
        venue=r.venue,
        online_url=r.online_url,
        capacity=r.capacity,
        rsvp_deadline=r.rsvp_deadline,
        status=r.status.value,
        sequence=r.sequence,
        uid=r.uid,
        host_organisation_id=r.host_organisation_id,
        host_name=getattr(r, "host_name", None),
        funding_call_id=r.funding_call_id,
        allow_requests=r.allow_requests,
        vcse_min_percent=r.vcse_min_percent,
        accessibility=r.accessibility,
        counts=counts,
    )


def _is_admin(user: Principal | None) -> bool:
    return user is not None and user.is_admin


def _api_event(db: Session, settings: Any, user: Principal | None, event_id: int) -> EventOut:
    event = db.get(m.Event, event_id)
    if event is None or (event.status == m.EventStatus.DRAFT and not _is_admin(user)):
        raise NotFoundException("No such event.")
    host = db.get(m.Organisation, event.host_organisation_id) if event.host_organisation_id else None
    out = _out(settings, event, rsvp.answer_counts(db, event.id) if _is_admin(user) else None)
    out.host_name = host.name if host else None
    return out


def public_list_json(request: Request[Any, Any, Any]) -> bytes:
    """The public list as anonymous visitors get it, encoded: what ``api_list`` answers everyone but admins asking for
    a status or a time, and what the cheap path of anonymous GETs sends without the handler
    (``crm.web.httpcache.ANONYMOUS_JSON``). It reads on a pooled connection (no session, no transaction to commit)
    and encodes the page once."""
    settings = request.app.state.settings
    params = ListParams.from_query(request.query_params.dict())
    with request.app.state.engine.connect() as connection:
        page = listing.public_list(connection, params, views.now())
    return encode_json(api_page(EventPage, page, lambda r: _out(settings, r)))


@get(
    "/",
    sync_to_thread=False,
    summary="List events",
    security=PUBLIC_READ,
    opt={ANONYMOUS_JSON: public_list_json},
)
def api_list(request: Request[Any, Any, Any]) -> Response[EventPage]:
    """Upcoming published events, soonest first (``sort``=soonest|latest, ``q`` searches title and venue), with
    keyset paging: pass ``next_cursor`` back as ``cursor``. Admins may pass ``status`` (draft, published,
    cancelled) and ``when`` (upcoming, past) to list any event."""
    # No dependencies and no transaction to commit: the list only reads. Anonymous visitors are answered by
    # ``public_list_json`` before this handler runs, unless they ask past the cache.
    query = request.query_params.dict()
    if not (_is_admin(current_user(request)) and (query.get("status") or query.get("when"))):
        return Response(public_list_json(request), media_type=MediaType.JSON)
    settings = request.app.state.settings
    params = ListParams.from_query(query, filter_names=listing.ADMIN_FILTERS)
    with request.app.state.session_factory() as db:
        page = listing.admin_list(db, params, views.now())
    return json_response(api_page(EventPage, page, lambda r: _out(settings, r)))


@get("/{event_id:int}", sync_to_thread=False, summary="Get one event", security=PUBLIC_READ)
def api_get(db: DB, settings: AppSettings, user: CurrentUser, event_id: FromPath[int]) -> EventOut:
    """Published and cancelled events are public; drafts only for admins. Admins also get answer counts."""
    return _api_event(db, settings, user, event_id)


def _validate_api(db: Session, values: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if "title" in values and not str(values["title"]).strip():
        errors["title"] = "Title is required."
    for key in ("starts_at", "ends_at", "rsvp_deadline"):
        value = values.get(key)
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            errors[key] = "Give the time with an offset, e.g. 2026-06-01T09:30:00+01:00."
    if not errors and values.get("starts_at") and values.get("ends_at") and values["ends_at"] <= values["starts_at"]:
        errors["ends_at"] = "The end must be after the start."
    if values.get("capacity") is not None and values["capacity"] < 1:
        errors["capacity"] = "Capacity must be at least 1 (or null for unlimited)."
    pct = values.get("vcse_min_percent")
    if pct is not None and not 0 <= pct <= 100:
        errors["vcse_min_percent"] = "Must be between 0 and 100."
    if values.get("host_organisation_id") and db.get(m.Organisation, values["host_organisation_id"]) is None:
        errors["host_organisation_id"] = "No such organisation."
    funding = getattr(m, "FundingCall", None)
    if values.get("funding_call_id") and funding is not None and db.get(funding, values["funding_call_id"]) is None:
        errors["funding_call_id"] = "No such funding call."
    online = str(values.get("online_url") or "")
    parts = split_url(online) if online else None
    if online and (parts is None or parts.scheme not in {"https", "http"} or not parts.netloc):
        errors["online_url"] = "Must start with https://."
    offsets = values.get("reminder_offsets_hours")
    if offsets is not None and any((not isinstance(h, int)) or h < 1 or h > 1440 for h in offsets):
        errors["reminder_offsets_hours"] = "Hours before the start, each between 1 and 1440."
    for key in ("offer_hold_hours", "offers_stop_hours"):
        if key in values and values[key] < 0:
            errors[key] = "Must not be negative."
    return errors


@post("/", sync_to_thread=False, guards=[admin_guard], summary="Create an event")
def api_create(db: DB, settings: AppSettings, user: CurrentUser, data: JSONBody[EventIn]) -> Response[EventOut]:
    values = msgspec.structs.asdict(data)
    publish = values.pop("publish")
    errors = _validate_api(db, values)
    if errors:
        raise unprocessable(errors)
    values["title"] = values["title"].strip()
    values["reminder_offsets_hours"] = sorted(set(values["reminder_offsets_hours"]), reverse=True)
    event = lifecycle.create_event(db, user, settings.base_url, values)
    if publish:
        lifecycle.publish_event(db, user, event, views.now())
    return Response(_api_event(db, settings, user, event.id), status_code=201)


@patch("/{event_id:int}", sync_to_thread=False, guards=[admin_guard], summary="Change, publish or cancel an event")
def api_update(
    state: State, db: DB, settings: AppSettings, user: CurrentUser, event_id: FromPath[int], data: JSONBody[EventPatch]
) -> EventOut:
    event = get_or_404(db, m.Event, event_id, "No such event.")
    values = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    action = values.pop("action", None)
    merged = {"starts_at": event.starts_at, "ends_at": event.ends_at, **values}
    errors = _validate_api(db, merged)
    if action not in (None, "publish", "cancel"):
        errors["action"] = "Use publish or cancel."
    if errors:
        raise unprocessable(errors)
    try:
        if values:
            lifecycle.update_event(db, views.mailer(state), user, event, values, views.now())
        if action == "publish":
            lifecycle.publish_event(db, user, event, views.now())
        elif action == "cancel":
            lifecycle.cancel_event(db, views.mailer(state), user, event, views.now())
    except lifecycle.EventProblem as exc:
        if exc.field:
            raise unprocessable({exc.field: str(exc)}) from exc
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    db.flush()
    return _api_event(db, settings, user, event.id)


@get("/{event_id:int}/invitations", sync_to_thread=False, guards=[admin_guard], summary="Invitations and answers")
def api_invitations(db: DB, event_id: FromPath[int]) -> InvitationList:
    """Everyone invited with their answer, note, waitlist and attendance (personal data: admins and admin API keys)."""
    event = get_or_404(db, m.Event, event_id, "No such event.")
    items = [
        InvitationOut(
            id=r.id,
            contact_id=r.contact_id,
            name=r.name,
            email=r.email,
            organisation=r.organisation,
            status=r.status.value,
            vcse=r.is_vcse,
            responded_at=r.responded_at,
            waitlisted_at=r.waitlisted_at,
            offer_expires_at=r.offer_expires_at,
            note=r.note,
            attended=r.attended,
            source=r.source,
        )
        for r in attendees.attendee_rows(db, event.id)
    ]
    return InvitationList(event_id=event.id, counts=rsvp.answer_counts(db, event.id), items=items)


@post(
    "/{event_id:int}/invitations",
    sync_to_thread=False,
    guards=[admin_guard],
    summary="Invite contacts, a list or email addresses",
    status_code=200,
)
def api_invite(
    state: State, db: DB, user: CurrentUser, event_id: FromPath[int], data: JSONBody[InvitationsIn]
) -> InvitationsSent:
    event = get_or_404(db, m.Event, event_id, "No such event.")
    errors: dict[str, str] = {}
    ids = sorted(set(data.contact_ids))
    if ids and len(set(db.scalars(select(m.Contact.id).where(m.Contact.id.in_(ids))))) != len(ids):
        errors["contact_ids"] = "Some of these contacts do not exist."
    if data.list_id is not None and db.get(m.ContactList, data.list_id) is None:
        errors["list_id"] = "No such contact list."
    entries = [pair for text in data.emails for pair in by_address.parse(text)]
    found = by_address.contacts_for(db, user, entries, note=f"Invited to {event.title}")
    if found.problems:
        errors["emails"] = "; ".join(found.problems)[:500]
    if not (ids or data.list_id or data.emails):
        errors["contact_ids"] = "Name at least one contact, a list or an email address."
    if errors:
        raise unprocessable(errors)
    people = tuple(sorted(set(ids) | set(found.contact_ids)))
    flt = audience.AudienceFilter(list_id=data.list_id, contact_ids=people)
    if data.list_id and people:
        # A list and particular people are two groups: invite each (filters in one AudienceFilter narrow each other).
        results = [
            _send(state, db, user, event, audience.AudienceFilter(list_id=data.list_id)),
            _send(state, db, user, event, audience.AudienceFilter(contact_ids=people)),
        ]
    else:
        results = [_send(state, db, user, event, flt)]
    excluded: dict[str, int] = {}
    for r in results:
        for reason, n in r.preview.excluded.items():
            excluded[reason] = excluded.get(reason, 0) + n
    return InvitationsSent(
        invited=sum(r.invited for r in results),
        matched=sum(r.preview.matched for r in results),
        excluded=excluded,
        queued_later=sum(r.deferred for r in results),
    )


def _send(
    state: State, db: Session, user: Principal | None, event: m.Event, flt: audience.AudienceFilter
) -> audience.SendResult:
    try:
        return audience.send(db, views.mailer(state), user, event, flt, views.now())
    except lifecycle.EventProblem as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc


route_handlers: list[Any] = api_area(
    "/api/v1/events", [api_list, api_get, api_create, api_update, api_invitations, api_invite], tag="events"
)
