"""HTTP for networking events: the public list and pages (with "request a place"), the signed RSVP and
waitlist-offer pages, the fellow's admin pages (events, audience, answers, attendance, contact lists) and the JSON
API. Handlers parse, authorise, call a service and choose a response."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

import msgspec
from litestar import Request, Response, Router, get, patch, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect, Template
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.events import audience, listing, rsvp, services
from crm.events.mail import Mailer
from crm.events.schemas import EventIn, EventOut, EventPage, EventPatch, InvitationList, InvitationOut
from crm.history import history
from crm.web.auth import Principal, admin_guard
from crm.web.deps import DB, AppSettings, CurrentUser, client_ip
from crm.web.errors import api_bad_body_handler, unprocessable
from crm.web.forms import Form, FormBody, normalise_email
from crm.web.listing import ListParams, is_htmx

S = m.InvitationStatus
TOKEN_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
RSVP_LIMIT_PER_HOUR = 60
ANSWERS_SHOWN = 500  # the live table; the CSV export and the API have everyone
REQUEST_LIMIT_PER_HOUR = 10


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _mailer(state: State) -> Mailer:
    return Mailer(state.renderer, state.signer, state.settings)


def _event_by_slug(db: Session, slug: str, *, public: bool = True) -> m.Event:
    event = db.scalar(select(m.Event).where(m.Event.slug == slug))
    if event is None or (public and event.status == m.EventStatus.DRAFT):
        raise NotFoundException("We could not find that event.")
    return event


def _event(db: Session, event_id: int) -> m.Event:
    event = db.get(m.Event, event_id)
    if event is None:
        raise NotFoundException("No such event.")
    return event


def _limited(state: State, request: Request[Any, Any, Any], name: str, per_hour: int) -> bool:
    return not state.rate_limiter.allow(f"{name}:{client_ip(request)}", per_hour, 3600)


# ---------------------------------------------------------------------------------------------------------
# Public pages


@get("/events", sync_to_thread=False, include_in_schema=False)
def event_list(request: Request[Any, Any, Any], db: DB) -> Template:
    params = ListParams.from_query(request.query_params.dict())
    page = listing.public_list(db, params, _now())
    context = {"page": page, "params": params, "sorts": listing.PUBLIC_SORTS, "when": services_when}
    if is_htmx(request.headers):
        return Template("public/events_results.html", context=context)
    return Template("public/events.html", context=context)


def services_when(event: Any) -> str:
    from crm.events.mail import when_text

    return when_text(event)


def _public_page(db: Session, event: m.Event, **extra: Any) -> dict[str, Any]:
    counts = rsvp.places(db, event, _now()) if event.capacity else None
    return {
        "e": event,
        "host": db.get(m.Organisation, event.host_organisation_id) if event.host_organisation_id else None,
        "when": services_when(event),
        "full": counts is not None and counts.free == 0,
        "open_for_requests": event.status == m.EventStatus.PUBLISHED
        and event.allow_requests
        and _now() < event.starts_at,
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
        return Template("public/event.html", context=_public_page(db, event, form=form), status_code=422)
    if _limited(state, request, "event-request", REQUEST_LIMIT_PER_HOUR):
        return Template(
            "public/event.html",
            context=_public_page(
                db, event, form=form, problem="Too many requests from your connection. Try again later."
            ),
            status_code=429,
        )
    try:
        services.request_place(db, event, name, email, organisation, note, _now())
    except services.EventProblem as exc:
        return Template(
            "public/event.html", context=_public_page(db, event, form=form, problem=str(exc)), status_code=409
        )
    return Template("public/event.html", context=_public_page(db, event, requested=True))


def _rsvp_context(db: Session, event: m.Event, invitation: m.Invitation, token: str, **extra: Any) -> dict[str, Any]:
    return {
        "e": event,
        "inv": invitation,
        "token": token,
        "when": services_when(event),
        "position": rsvp.waitlist_position(db, invitation),
        "closed": rsvp.answer_window_problem(event, _now()),
        **extra,
    }


@get("/rsvp/{token:str}", sync_to_thread=False, include_in_schema=False)
def rsvp_page(state: State, db: DB, token: FromPath[str], answer: FromQuery[str] = "") -> Template:
    """Shows the invitation and a form; a GET (a mail scanner, a preview) never changes anything."""
    try:
        event, invitation, contact = services.read_rsvp(db, state.signer, token)
    except rsvp.RsvpProblem as exc:
        return Template("public/rsvp.html", context={"problem": str(exc)}, status_code=400, headers=TOKEN_HEADERS)
    context = _rsvp_context(
        db, event, invitation, token, chosen=answer if answer in rsvp.ANSWERS else "", name=contact.name
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
    answer = form.choice("answer", set(rsvp.ANSWERS), required=True, label="answer")
    note = form.str("note", max_length=2000, label="Note")
    try:
        event, invitation, contact = services.read_rsvp(db, state.signer, token)
    except rsvp.RsvpProblem as exc:
        return Template("public/rsvp.html", context={"problem": str(exc)}, status_code=400, headers=TOKEN_HEADERS)
    if not form.ok:
        context = _rsvp_context(db, event, invitation, token, form=form, chosen="", name=contact.name)
        return Template("public/rsvp.html", context=context, status_code=422, headers=TOKEN_HEADERS)
    try:
        event, invitation, outcome = services.answer_by_token(db, _mailer(state), token, answer, note, _now())
    except rsvp.RsvpProblem as exc:
        context = _rsvp_context(db, event, invitation, token, problem=str(exc), chosen="", name=contact.name)
        return Template("public/rsvp.html", context=context, status_code=409, headers=TOKEN_HEADERS)
    context = _rsvp_context(db, event, invitation, token, outcome=outcome, chosen="", name=contact.name)
    return Template("public/rsvp.html", context=context, headers=TOKEN_HEADERS)


@get("/rsvp/{token:str}/invite.ics", sync_to_thread=False, include_in_schema=False)
def rsvp_ics(state: State, db: DB, token: FromPath[str]) -> Response[Any]:
    try:
        event, invitation, contact = services.read_rsvp(db, state.signer, token)
        text = services.current_ics(db, _mailer(state), event, invitation, contact, _now())
    except rsvp.RsvpProblem as exc:
        return Template("public/rsvp.html", context={"problem": str(exc)}, status_code=400, headers=TOKEN_HEADERS)
    method = "CANCEL" if event.status == m.EventStatus.CANCELLED else "REQUEST"
    return Response(
        text.encode("utf-8"),
        media_type=f"text/calendar; charset=utf-8; method={method}",
        headers={**TOKEN_HEADERS, "Content-Disposition": 'attachment; filename="invite.ics"'},
    )


@get("/waitlist-offer/{token:str}", sync_to_thread=False, include_in_schema=False)
def offer_page(state: State, db: DB, token: FromPath[str]) -> Template:
    try:
        event, invitation, stamp = rsvp.read_offer(db, state.signer, token)
    except rsvp.RsvpProblem as exc:
        return Template("public/rsvp_offer.html", context={"problem": str(exc)}, status_code=400, headers=TOKEN_HEADERS)
    context = {
        "e": event,
        "when": services_when(event),
        "token": token,
        "state": rsvp.offer_state(invitation, stamp, _now()),
        "expires": invitation.offer_expires_at,
        "closed": rsvp.answer_window_problem(event, _now()),
    }
    return Template("public/rsvp_offer.html", context=context, headers=TOKEN_HEADERS)


@post("/waitlist-offer/{token:str}", sync_to_thread=False, include_in_schema=False)
def offer_accept(request: Request[Any, Any, Any], state: State, db: DB, token: FromPath[str]) -> Template:
    if _limited(state, request, "rsvp", RSVP_LIMIT_PER_HOUR):
        return Template(
            "public/rsvp_offer.html", context={"problem": "Too many answers. Try again later."}, status_code=429
        )
    try:
        event, outcome = rsvp.accept_offer(db, state.signer, token, _now())
    except rsvp.RsvpProblem as exc:
        return Template("public/rsvp_offer.html", context={"problem": str(exc)}, status_code=409, headers=TOKEN_HEADERS)
    context = {"e": event, "when": services_when(event), "outcome": outcome, "state": "taken"}
    return Template("public/rsvp_offer.html", context=context, headers=TOKEN_HEADERS)


public_handlers = [event_list, event_page, request_place, rsvp_page, rsvp_answer, rsvp_ics, offer_page, offer_accept]


# ---------------------------------------------------------------------------------------------------------
# Admin pages (the fellow)


def _choices(db: Session) -> dict[str, Any]:
    orgs = db.execute(
        select(m.Organisation.id, m.Organisation.name).order_by(m.Organisation.name_normalised).limit(2000)
    ).all()
    calls: list[Any] = []
    funding = getattr(m, "FundingCall", None)
    if funding is not None:
        calls = db.execute(select(funding.id, funding.title).order_by(funding.id.desc()).limit(500)).all()
    return {"organisations": orgs, "funding_calls": calls}


def _form_page(db: Session, form: Form, event: m.Event | None, status_code: int = 200) -> Template:
    return Template(
        "admin/event_form.html", context={"form": form, "e": event, **_choices(db)}, status_code=status_code
    )


@get("/events", sync_to_thread=False)
def admin_events(request: Request[Any, Any, Any], db: DB) -> Template:
    params = ListParams.from_query(request.query_params.dict(), filter_names=listing.ADMIN_FILTERS)
    page = listing.admin_list(db, params, _now())
    context = {
        "page": page,
        "params": params,
        "sorts": listing.ADMIN_SORTS,
        "statuses": list(m.EventStatus),
        "when": services_when,
    }
    if is_htmx(request.headers):
        return Template("admin/events_results.html", context=context)
    return Template("admin/events.html", context=context)


@get("/events/new", sync_to_thread=False)
def admin_new(db: DB) -> Template:
    return _form_page(db, Form({"reminders": "168, 24", "offer_hold_hours": "48", "offers_stop_hours": "24"}), None)


@post("/events/new", sync_to_thread=False)
def admin_create(db: DB, settings: AppSettings, user: CurrentUser, data: FormBody) -> Template | Redirect:
    form = Form(data)
    values = services.parse_event_form(db, form)
    if not form.ok:
        return _form_page(db, form, None, status_code=422)
    event = services.create_event(db, user, settings.base_url, values)
    return Redirect(f"/admin/events/{event.id}?saved=created", status_code=303)


def _detail_context(db: Session, event: m.Event, **extra: Any) -> dict[str, Any]:
    requests = list(
        db.scalars(
            select(m.PlaceRequest)
            .where(m.PlaceRequest.event_id == event.id, m.PlaceRequest.status == m.PlaceRequestStatus.PENDING)
            .order_by(m.PlaceRequest.id)
        )
    )
    return {
        "e": event,
        "when": services_when(event),
        "host": db.get(m.Organisation, event.host_organisation_id) if event.host_organisation_id else None,
        "counts": rsvp.answer_counts(db, event.id),
        "places": rsvp.places(db, event, _now()),
        "rows": services.attendee_rows(db, event.id, limit=ANSWERS_SHOWN),
        "rows_limit": ANSWERS_SHOWN,
        "requests": requests,
        "history": history(db, "event", event.id),
        "now": _now(),
        **extra,
    }


NOTICES = {
    "created": "Event created as a draft. Publish it when it is ready, then invite people.",
    "saved": "Saved.",
    "published": "Published. It is now on the public events page; you can invite people.",
    "cancelled": "Cancelled. Everyone invited who had not declined was sent a cancellation.",
    "attendance": "Attendance saved.",
}


@get("/events/{event_id:int}", sync_to_thread=False)
def admin_event(db: DB, event_id: FromPath[int], saved: FromQuery[str] = "", msg: FromQuery[str] = "") -> Template:
    event = _event(db, event_id)
    notice = NOTICES.get(saved, "") or msg[:300]
    return Template("admin/event.html", context=_detail_context(db, event, notice=notice))


@get("/events/{event_id:int}/answers", sync_to_thread=False)
def admin_answers(db: DB, event_id: FromPath[int]) -> Template:
    """The live answers table (htmx polls this fragment)."""
    event = _event(db, event_id)
    return Template("admin/event_answers.html", context=_detail_context(db, event))


@get("/events/{event_id:int}/edit", sync_to_thread=False)
def admin_edit(db: DB, event_id: FromPath[int]) -> Template:
    event = _event(db, event_id)
    return _form_page(db, Form(services.form_data(event)), event)


@post("/events/{event_id:int}/edit", sync_to_thread=False)
def admin_update(
    state: State, db: DB, user: CurrentUser, event_id: FromPath[int], data: FormBody
) -> Template | Redirect:
    event = _event(db, event_id)
    form = Form(data)
    values = services.parse_event_form(db, form)
    if not form.ok:
        return _form_page(db, form, event, status_code=422)
    try:
        result = services.update_event(db, _mailer(state), user, event, values, _now())
    except services.EventProblem as exc:
        form.add_error(exc.field or "title", str(exc))
        return _form_page(db, form, event, status_code=409)
    if result.bumped:
        msg = f"Saved. The time or place changed, so {result.notified} people were sent an updated invitation."
        return Redirect(f"/admin/events/{event.id}?msg={quote(msg)}", status_code=303)
    return Redirect(f"/admin/events/{event.id}?saved=saved", status_code=303)


@post("/events/{event_id:int}/publish", sync_to_thread=False)
def admin_publish(db: DB, user: CurrentUser, event_id: FromPath[int]) -> Template | Redirect:
    event = _event(db, event_id)
    try:
        services.publish_event(db, user, event, _now())
    except services.EventProblem as exc:
        return Template("admin/event.html", context=_detail_context(db, event, notice=str(exc)), status_code=409)
    return Redirect(f"/admin/events/{event.id}?saved=published", status_code=303)


@get("/events/{event_id:int}/cancel", sync_to_thread=False)
def admin_cancel_page(db: DB, event_id: FromPath[int]) -> Template:
    event = _event(db, event_id)
    counts = rsvp.answer_counts(db, event.id)
    return Template("admin/event_cancel.html", context={"e": event, "when": services_when(event), "counts": counts})


@post("/events/{event_id:int}/cancel", sync_to_thread=False)
def admin_cancel(state: State, db: DB, user: CurrentUser, event_id: FromPath[int]) -> Redirect:
    event = _event(db, event_id)
    services.cancel_event(db, _mailer(state), user, event, _now())
    return Redirect(f"/admin/events/{event.id}?saved=cancelled", status_code=303)


def _audience_context(db: Session, event: m.Event, flt: audience.AudienceFilter, **extra: Any) -> dict[str, Any]:
    topics = db.execute(select(m.Topic.id, m.Topic.name).order_by(m.Topic.name)).all()
    regions = db.execute(select(m.Region.id, m.Region.name).order_by(m.Region.position)).all()
    lists = db.execute(select(m.ContactList.id, m.ContactList.name).order_by(m.ContactList.name)).all()
    return {
        "e": event,
        "when": services_when(event),
        "f": flt,
        "org_kinds": list(m.OrgKind),
        "stages": list(m.CareerStage),
        "topics": topics,
        "regions": regions,
        "lists": lists,
        **extra,
    }


@get("/events/{event_id:int}/audience", sync_to_thread=False)
def admin_audience(request: Request[Any, Any, Any], db: DB, event_id: FromPath[int]) -> Template:
    event = _event(db, event_id)
    query = request.query_params.dict()
    flt = audience.AudienceFilter.from_mapping(query)
    preview = None if flt.is_empty else audience.preview(db, event, flt)
    return Template("admin/audience.html", context=_audience_context(db, event, flt, preview=preview))


@post("/events/{event_id:int}/audience", sync_to_thread=False)
def admin_send(state: State, db: DB, user: CurrentUser, event_id: FromPath[int], data: FormBody) -> Template | Redirect:
    event = _event(db, event_id)
    flt = audience.AudienceFilter.from_mapping(data)
    try:
        result = audience.send(db, _mailer(state), user, event, flt, _now())
    except services.EventProblem as exc:
        preview = None if flt.is_empty else audience.preview(db, event, flt)
        return Template(
            "admin/audience.html",
            context=_audience_context(db, event, flt, preview=preview, problem=str(exc)),
            status_code=409,
        )
    if result.invited == 0:
        preview = audience.preview(db, event, flt)
        return Template(
            "admin/audience.html",
            context=_audience_context(
                db, event, flt, preview=preview, problem="Nobody was invited: " + preview.sentence()
            ),
            status_code=409,
        )
    msg = f"{result.invited} invitations queued. They go out within a minute; answers appear below."
    if result.deferred:
        msg = f"{result.invited} people invited. Their emails are queued in the background over the next few minutes."
    return Redirect(f"/admin/events/{event.id}?msg={quote(msg)}", status_code=303)


@get("/events/{event_id:int}/attendees.csv", sync_to_thread=False)
def admin_csv(db: DB, event_id: FromPath[int]) -> Response[Any]:
    event = _event(db, event_id)
    body = services.attendees_csv(db, event)
    return Response(
        body.encode("utf-8-sig"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{event.slug}-attendees.csv"',
            "Cache-Control": "no-store",
        },
    )


@get("/events/{event_id:int}/attendance", sync_to_thread=False)
def admin_attendance_page(db: DB, event_id: FromPath[int]) -> Template:
    event = _event(db, event_id)
    rows = services.attendee_rows(db, event.id, (S.YES, S.MAYBE, S.WAITLISTED))
    return Template(
        "admin/event_attendance.html",
        context={"e": event, "when": services_when(event), "rows": rows, "started": _now() >= event.starts_at},
    )


@post("/events/{event_id:int}/attendance", sync_to_thread=False)
def admin_attendance(db: DB, user: CurrentUser, event_id: FromPath[int], data: FormBody) -> Template | Redirect:
    event = _event(db, event_id)
    ids = {int(v) for v in Form(data).getlist("attended") if v.isdigit()}
    try:
        services.record_attendance(db, user, event, ids, _now())
    except services.EventProblem as exc:
        rows = services.attendee_rows(db, event.id, (S.YES, S.MAYBE, S.WAITLISTED))
        return Template(
            "admin/event_attendance.html",
            context={"e": event, "when": services_when(event), "rows": rows, "started": False, "problem": str(exc)},
            status_code=409,
        )
    return Redirect(f"/admin/events/{event.id}?saved=attendance", status_code=303)


@post("/events/{event_id:int}/requests/{request_id:int}/{decision:str}", sync_to_thread=False)
def admin_decide(
    state: State, db: DB, user: CurrentUser, event_id: FromPath[int], request_id: FromPath[int], decision: FromPath[str]
) -> Redirect:
    event = _event(db, event_id)
    if decision not in {"approve", "decline"}:
        raise NotFoundException("No such action.")
    try:
        msg = services.decide_request(db, _mailer(state), user, event, request_id, decision == "approve", _now())
    except services.EventProblem as exc:
        msg = str(exc)
    return Redirect(f"/admin/events/{event.id}?msg={quote(msg)}", status_code=303)


# Saved contact lists (audiences)


@get("/contact-lists", sync_to_thread=False)
def admin_lists(db: DB) -> Template:
    rows = db.execute(
        select(
            m.ContactList.id, m.ContactList.name, m.ContactList.description, func.count(m.ContactListMember.contact_id)
        )
        .outerjoin(m.ContactListMember, m.ContactListMember.list_id == m.ContactList.id)
        .group_by(m.ContactList.id, m.ContactList.name, m.ContactList.description)
        .order_by(m.ContactList.name)
    ).all()
    return Template("admin/audience_lists.html", context={"rows": rows, "form": Form({})})


@post("/contact-lists", sync_to_thread=False)
def admin_list_create(db: DB, user: CurrentUser, data: FormBody) -> Template | Redirect:
    form = Form(data)
    name = form.line("name", required=True, max_length=200, label="Name")
    description = form.str("description", max_length=2000)
    if form.ok and db.scalar(select(m.ContactList.id).where(m.ContactList.name == name)):
        form.add_error("name", "A list with this name already exists.")
    if not form.ok:
        return Template("admin/audience_lists.html", context={"rows": [], "form": form}, status_code=422)
    lst = m.ContactList(name=name, description=description)
    db.add(lst)
    db.flush()
    audit.record(db, user, "created", "contact_list", lst.id, summary=name)
    return Redirect(f"/admin/contact-lists/{lst.id}", status_code=303)


def _list_page(db: Session, lst: m.ContactList, **extra: Any) -> Template:
    members = db.execute(
        select(m.Contact.id, m.Contact.name, m.Contact.email)
        .join(m.ContactListMember, m.ContactListMember.contact_id == m.Contact.id)
        .where(m.ContactListMember.list_id == lst.id)
        .order_by(m.Contact.name)
    ).all()
    status_code = extra.pop("status_code", 200)
    return Template(
        "admin/audience_list.html",
        context={"lst": lst, "members": members, "form": extra.pop("form", Form({})), **extra},
        status_code=status_code,
    )


def _list(db: Session, list_id: int) -> m.ContactList:
    lst = db.get(m.ContactList, list_id)
    if lst is None:
        raise NotFoundException("No such list.")
    return lst


@get("/contact-lists/{list_id:int}", sync_to_thread=False)
def admin_list(db: DB, list_id: FromPath[int]) -> Template:
    return _list_page(db, _list(db, list_id))


@post("/contact-lists/{list_id:int}/members", sync_to_thread=False)
def admin_list_add(db: DB, user: CurrentUser, list_id: FromPath[int], data: FormBody) -> Template:
    lst = _list(db, list_id)
    form = Form(data)
    raw = form.str("emails", max_length=200_000, label="Email addresses")
    wanted: set[str] = set()
    bad: list[str] = []
    for part in raw.replace(",", "\n").replace(";", "\n").split():
        try:
            wanted.add(normalise_email(part))
        except ValueError:
            bad.append(part)
    found = (
        dict(db.execute(select(m.Contact.email, m.Contact.id).where(m.Contact.email.in_(wanted))).all())
        if wanted
        else {}
    )
    existing = set(db.scalars(select(m.ContactListMember.contact_id).where(m.ContactListMember.list_id == lst.id)))
    new_ids = [cid for cid in found.values() if cid not in existing]
    for cid in new_ids:
        db.add(m.ContactListMember(list_id=lst.id, contact_id=cid))
    db.flush()
    unknown = sorted(wanted - set(found))
    if new_ids:
        audit.record(db, user, "added members", "contact_list", lst.id, summary=f"{len(new_ids)} added")
    notice = f"{len(new_ids)} added."
    if unknown:
        notice += f" Not in the directory: {', '.join(unknown[:20])}{'…' if len(unknown) > 20 else ''}."
    if bad:
        notice += f" Not email addresses: {', '.join(bad[:10])}."
    return _list_page(db, lst, notice=notice)


@post("/contact-lists/{list_id:int}/members/{contact_id:int}/remove", sync_to_thread=False)
def admin_list_remove(db: DB, user: CurrentUser, list_id: FromPath[int], contact_id: FromPath[int]) -> Redirect:
    lst = _list(db, list_id)
    db.execute(
        delete(m.ContactListMember).where(
            m.ContactListMember.list_id == lst.id, m.ContactListMember.contact_id == contact_id
        )
    )
    audit.record(db, user, "removed member", "contact_list", lst.id, summary=f"contact {contact_id}")
    return Redirect(f"/admin/contact-lists/{lst.id}", status_code=303)


admin_router = Router(
    path="/admin",
    route_handlers=[
        admin_events,
        admin_new,
        admin_create,
        admin_event,
        admin_answers,
        admin_edit,
        admin_update,
        admin_publish,
        admin_cancel_page,
        admin_cancel,
        admin_audience,
        admin_send,
        admin_csv,
        admin_attendance_page,
        admin_attendance,
        admin_decide,
        admin_lists,
        admin_list_create,
        admin_list,
        admin_list_add,
        admin_list_remove,
    ],
    guards=[admin_guard],
    include_in_schema=False,
)


# ---------------------------------------------------------------------------------------------------------
# JSON API


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


@get("/", sync_to_thread=False, summary="List events")
def api_list(request: Request[Any, Any, Any], db: DB, settings: AppSettings, user: CurrentUser) -> EventPage:
    """Upcoming published events, soonest first (``sort``=soonest|latest, ``q`` searches title and venue), with
    keyset paging: pass ``next_cursor`` back as ``cursor``. Admins may pass ``status`` (draft, published,
    cancelled) and ``when`` (upcoming, past) to list any event."""
    query = request.query_params.dict()
    if _is_admin(user) and (query.get("status") or query.get("when")):
        params = ListParams.from_query(query, filter_names=listing.ADMIN_FILTERS)
        page = listing.admin_list(db, params, _now())
    else:
        params = ListParams.from_query(query)
        page = listing.public_list(db, params, _now())
    return EventPage(
        items=[_out(settings, r) for r in page.items], next_cursor=page.next_cursor, prev_cursor=page.prev_cursor
    )


@get("/{event_id:int}", sync_to_thread=False, summary="Get one event")
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
    if values.get("online_url") and not str(values["online_url"]).startswith(("https://", "http://")):
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
    event = services.create_event(db, user, settings.base_url, values)
    if publish:
        services.publish_event(db, user, event, _now())
    return Response(_api_event(db, settings, user, event.id), status_code=201)


@patch("/{event_id:int}", sync_to_thread=False, guards=[admin_guard], summary="Change, publish or cancel an event")
def api_update(
    state: State, db: DB, settings: AppSettings, user: CurrentUser, event_id: FromPath[int], data: JSONBody[EventPatch]
) -> EventOut:
    event = _event(db, event_id)
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
            services.update_event(db, _mailer(state), user, event, values, _now())
        if action == "publish":
            services.publish_event(db, user, event, _now())
        elif action == "cancel":
            services.cancel_event(db, _mailer(state), user, event, _now())
    except services.EventProblem as exc:
        if exc.field:
            raise unprocessable({exc.field: str(exc)}) from exc
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    db.flush()
    return _api_event(db, settings, user, event.id)


@get("/{event_id:int}/invitations", sync_to_thread=False, guards=[admin_guard], summary="Invitations and answers")
def api_invitations(db: DB, event_id: FromPath[int]) -> InvitationList:
    """Everyone invited with their answer, note, waitlist and attendance (personal data: admins and admin API keys)."""
    event = _event(db, event_id)
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
        for r in services.attendee_rows(db, event.id)
    ]
    return InvitationList(event_id=event.id, counts=rsvp.answer_counts(db, event.id), items=items)


api_router = Router(
    path="/api/v1/events",
    route_handlers=[api_list, api_get, api_create, api_update, api_invitations],
    tags=["events"],
    exception_handlers={HTTPException: api_bad_body_handler},
)

route_handlers: list[Any] = [*public_handlers, admin_router, api_router]
