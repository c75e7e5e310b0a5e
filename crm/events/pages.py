"""Public events pages: the events list and an event's page (with "request a place"), and the signed RSVP and
waitlist-offer pages with the invitation's .ics download."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.events import guests, lifecycle, listing, networking, rsvp, views
from crm.events.calendar_links import links_for, map_link
from crm.events.mail import host_name, when_text
from crm.listing import ListParams
from crm.web.deps import DB, client_ip
from crm.web.downloads import calendar_type, download
from crm.web.forms import Form, FormBody
from crm.web.pages import form_page, list_page

TOKEN_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
RSVP_LIMIT_PER_HOUR = 60
REQUEST_LIMIT_PER_HOUR = 10


def _event_by_slug(db: Session, slug: str, *, public: bool = True) -> m.Event:
    event = db.scalar(select(m.Event).where(m.Event.slug == slug))
    if event is None or (public and event.status == m.EventStatus.DRAFT):
        raise NotFoundException("We could not find that event.")
    return event


def _limited(state: State, request: Request[Any, Any, Any], name: str, per_hour: int) -> bool:
    return not state.rate_limiter.allow(f"{name}:{client_ip(request)}", per_hour, 3600)


@get("/events", sync_to_thread=False, include_in_schema=False)
def event_list(request: Request[Any, Any, Any], db: DB) -> Template:
    params = ListParams.from_query(request.query_params.dict())
    page = listing.public_list(db, params, views.now(), count=True)
    context = {"page": page, "params": params, "sorts": listing.PUBLIC_SORTS, "when": when_text}
    return list_page(request, "public/events.html", "public/events_results.html", context)


def _public_page(db: Session, event: m.Event, **extra: Any) -> dict[str, Any]:
    counts = rsvp.places(db, event, views.now()) if event.capacity else None
    return {
        "e": event,
        "host": db.get(m.Organisation, event.host_organisation_id) if event.host_organisation_id else None,
        "when": when_text(event),
        "full": counts is not None and counts.free == 0,
        "open_for_requests": event.status == m.EventStatus.PUBLISHED
        and event.allow_requests
        and views.now() < event.starts_at,
        "form": extra.pop("form", Form({})),
        **extra,
    }


@get("/events/{slug:str}", sync_to_thread=False, include_in_schema=False)
def event_page(db: DB, slug: FromPath[str]) -> Template:
    event = _event_by_slug(db, slug)
    return Template("public/event.html", context=_public_page(db, event))


@post("/events/{slug:str}/request", sync_to_thread=False, include_in_schema=False)
def request_place(
    request: Request[Any, Any, Any], state: State, db: DB, slug: FromPath[str], data: FormBody
) -> Template:
    event = _event_by_slug(db, slug)
    form = Form(data)
    name = form.line("name", required=True, max_length=200, label="Your name")
    email = form.email("email")
    organisation = form.line("organisation", max_length=300, label="Organisation")
    note = form.str("note", max_length=2000, label="Note")
    if not form.ok:
        return form_page("public/event.html", _public_page(db, event), form=form)
    if _limited(state, request, "event-request", REQUEST_LIMIT_PER_HOUR):
        return Template(
            "public/event.html",
            context=_public_page(
                db, event, form=form, problem="Too many requests from your connection. Try again later."
            ),
            status_code=429,
        )
    try:
        guests.request_place(db, event, name, email, organisation, note, views.now())
    except lifecycle.EventProblem as exc:
        return Template(
            "public/event.html", context=_public_page(db, event, form=form, problem=str(exc)), status_code=409
        )
    return Template("public/event.html", context=_public_page(db, event, requested=True))


def _rsvp_context(
    db: Session, state: State, event: m.Event, invitation: m.Invitation, token: str, **extra: Any
) -> dict[str, Any]:
    """What the invitee reads before answering: what the event is, who hosts it, where (with a map), access
    information, and ways to put it in their calendar."""
    base = views.mailer(state).base_url
    has_place = invitation.status == m.InvitationStatus.YES
    location = ", ".join(p for p in (event.venue, event.online_url if has_place else "") if p)
    return {
        "e": event,
        "inv": invitation,
        "token": token,
        "host": host_name(db, event),
        "map_url": map_link(event.venue) if event.venue else "",
        "calendar_links": links_for(event, event_url=f"{base}/events/{event.slug}", location=location),
        "when": when_text(event),
        "position": rsvp.waitlist_position(db, invitation),
        "closed": rsvp.answer_window_problem(event, views.now()),
        "going": networking.whos_going(db, event.id, invitation),
        **extra,
    }


@get("/rsvp/{token:str}", sync_to_thread=False, include_in_schema=False)
def rsvp_page(state: State, db: DB, token: FromPath[str], answer: FromQuery[str] = "") -> Template:
    """Shows the invitation and a form; a GET (a mail scanner, a preview) never changes anything."""
    try:
        event, invitation, contact = guests.read_rsvp(db, state.signer, token)
    except rsvp.RsvpProblem as exc:
        return Template("public/rsvp.html", context={"problem": str(exc)}, status_code=400, headers=TOKEN_HEADERS)
    context = _rsvp_context(
        db, state, event, invitation, token, chosen=answer if answer in rsvp.ANSWERS else "", name=contact.name
    )
    return Template("public/rsvp.html", context=context, headers=TOKEN_HEADERS)


@post("/rsvp/{token:str}", sync_to_thread=False, include_in_schema=False)
def rsvp_answer(
    request: Request[Any, Any, Any], state: State, db: DB, token: FromPath[str], data: FormBody
) -> Template:
    if _limited(state, request, "rsvp", RSVP_LIMIT_PER_HOUR):
        return Template(
            "public/rsvp.html",
            context={"problem": "Too many answers from your connection. Wait a while and try again."},
            status_code=429,
            headers=TOKEN_HEADERS,
        )
    form = Form(data)
    # Form.choice says "Choose a <label>.": "reply" reads well where "answer" gave "Choose a answer."
    answer = form.choice("answer", set(rsvp.ANSWERS), required=True, label="reply")
    note = form.str("note", max_length=2000, label="Note")
    share, introduce = form.bool("share_with_attendees"), form.bool("wants_introductions")
    looking_for = form.line("looking_for", max_length=networking.LOOKING_FOR_MAX, label="What you are looking for")
    try:
        event, invitation, contact = guests.read_rsvp(db, state.signer, token)
    except rsvp.RsvpProblem as exc:
        return Template("public/rsvp.html", context={"problem": str(exc)}, status_code=400, headers=TOKEN_HEADERS)
    if not form.ok:
        context = _rsvp_context(db, state, event, invitation, token, form=form, chosen="", name=contact.name)
        return Template("public/rsvp.html", context=context, status_code=422, headers=TOKEN_HEADERS)
    try:
        event, invitation, outcome = guests.answer_by_token(db, views.mailer(state), token, answer, note, views.now())
    except rsvp.RsvpProblem as exc:
        context = _rsvp_context(db, state, event, invitation, token, problem=str(exc), chosen="", name=contact.name)
        return Template("public/rsvp.html", context=context, status_code=409, headers=TOKEN_HEADERS)
    networking.save_choices(invitation, share=share, introduce=introduce, looking_for=looking_for)
    context = _rsvp_context(db, state, event, invitation, token, outcome=outcome, chosen="", name=contact.name)
    return Template("public/rsvp.html", context=context, headers=TOKEN_HEADERS)


@get("/rsvp/{token:str}/invite.ics", sync_to_thread=False, include_in_schema=False)
def rsvp_ics(state: State, db: DB, token: FromPath[str]) -> Response[Any]:
    try:
        event, invitation, contact = guests.read_rsvp(db, state.signer, token)
        text = guests.current_ics(db, views.mailer(state), event, invitation, contact, views.now())
    except rsvp.RsvpProblem as exc:
        return Template("public/rsvp.html", context={"problem": str(exc)}, status_code=400, headers=TOKEN_HEADERS)
    method = "CANCEL" if event.status == m.EventStatus.CANCELLED else "REQUEST"
    return download(text.encode("utf-8"), calendar_type(method), "invite.ics", TOKEN_HEADERS)


@get("/waitlist-offer/{token:str}", sync_to_thread=False, include_in_schema=False)
def offer_page(state: State, db: DB, token: FromPath[str]) -> Template:
    try:
        event, invitation, stamp = rsvp.read_offer(db, state.signer, token)
    except rsvp.RsvpProblem as exc:
        return Template("public/rsvp_offer.html", context={"problem": str(exc)}, status_code=400, headers=TOKEN_HEADERS)
    context = {
        "e": event,
        "when": when_text(event),
        "token": token,
        "state": rsvp.offer_state(invitation, stamp, views.now()),
        "expires": invitation.offer_expires_at,
        "closed": rsvp.answer_window_problem(event, views.now()),
    }
    return Template("public/rsvp_offer.html", context=context, headers=TOKEN_HEADERS)


@post("/waitlist-offer/{token:str}", sync_to_thread=False, include_in_schema=False)
def offer_accept(request: Request[Any, Any, Any], state: State, db: DB, token: FromPath[str]) -> Template:
    if _limited(state, request, "rsvp", RSVP_LIMIT_PER_HOUR):
        return Template(
            "public/rsvp_offer.html", context={"problem": "Too many answers. Try again later."}, status_code=429
        )
    try:
        event, outcome = rsvp.accept_offer(db, views.mailer(state), token, views.now())
    except rsvp.RsvpProblem as exc:
        return Template("public/rsvp_offer.html", context={"problem": str(exc)}, status_code=409, headers=TOKEN_HEADERS)
    context = {"e": event, "when": when_text(event), "outcome": outcome, "state": "taken"}
    return Template("public/rsvp_offer.html", context=context, headers=TOKEN_HEADERS)


route_handlers: list[Any] = [
    event_list,
    event_page,
    request_place,
    rsvp_page,
    rsvp_answer,
    rsvp_ics,
    offer_page,
    offer_accept,
]
