"""The fellow's events admin pages (/admin): events, their audience and sending, answers, attendance, place
requests, and the saved contact lists invitations can be sent to."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.bulk import actions as bulk
from crm.bulk import kinds as bulk_kinds
from crm.events import (
    attendees,
    audience,
    by_address,
    checkin,
    contact_lists,
    forms,
    guests,
    lifecycle,
    listing,
    rsvp,
    views,
)
from crm.events.mail import when_text
from crm.history import history
from crm.listing import ListParams
from crm.views_saved import saved
from crm.web import offload
from crm.web.areas import admin_area
from crm.web.deps import DB, AppSettings, CurrentUser
from crm.web.downloads import CSV, download
from crm.web.forms import Form, FormBody
from crm.web.pages import attempt, form_page, get_or_404, list_page
from crm.web.pages import notice as notice_text

S = m.InvitationStatus
ANSWERS_SHOWN = 500  # the live table; the CSV export and the API have everyone


def _choices(db: Session) -> dict[str, Any]:
    orgs = db.execute(
        select(m.Organisation.id, m.Organisation.name).order_by(m.Organisation.name_normalised).limit(2000)
    ).all()
    calls: list[Any] = []
    funding = getattr(m, "FundingCall", None)
    if funding is not None:
        calls = db.execute(select(funding.id, funding.title).order_by(funding.id.desc()).limit(500)).all()
    return {"organisations": orgs, "funding_calls": calls}


def _form_page(db: Session, form: Form, event: m.Event | None) -> Template:
    return form_page("admin/event_form.html", {"e": event, **_choices(db)}, form=form)


@get("/events", sync_to_thread=False)
def admin_events(request: Request[Any, Any, Any], db: DB, user: CurrentUser) -> Template:
    params = ListParams.from_query(request.query_params.dict(), filter_names=listing.ADMIN_FILTERS)
    page = listing.admin_list(db, params, views.now(), count=True)
    context = {
        "page": page,
        "params": params,
        "sorts": listing.ADMIN_SORTS,
        "statuses": list(m.EventStatus),
        "when": when_text,
        "bulk_actions": bulk.offered(bulk_kinds.EVENTS, user),
    }
    return list_page(
        request,
        "admin/events.html",
        "admin/events_results.html",
        context,
        page_only=lambda: {"my_views": saved.views_for(db, user, "events")},
    )


@get("/events/new", sync_to_thread=False)
def admin_new(db: DB) -> Template:
    return _form_page(db, Form({"reminders": "168, 24", "offer_hold_hours": "48", "offers_stop_hours": "24"}), None)


@post("/events/new", sync_to_thread=False)
def admin_create(db: DB, settings: AppSettings, user: CurrentUser, data: FormBody) -> Template | Redirect:
    form = Form(data)
    values = forms.parse_event_form(db, form)
    event = attempt(form, lambda: lifecycle.create_event(db, user, settings.base_url, values))
    if event is None:
        return _form_page(db, form, None)
    return _to_event(event, "created")


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
        "when": when_text(event),
        "host": db.get(m.Organisation, event.host_organisation_id) if event.host_organisation_id else None,
        "counts": rsvp.answer_counts(db, event.id),
        "places": rsvp.places(db, event, views.now()),
        "rows": attendees.attendee_rows(db, event.id, limit=ANSWERS_SHOWN),
        "rows_limit": ANSWERS_SHOWN,
        "requests": requests,
        "history": history(db, "event", event.id),
        "now": views.now(),
        "checkin_opens": checkin.OPENS_BEFORE,
        **extra,
    }


NOTICES = {
    "created": "Event created as a draft. Publish it when it is ready, then invite people.",
    "saved": "Saved.",
    "published": "Published. It is now on the public events page; you can invite people.",
    "cancelled": "Cancelled. Everyone invited who had not declined was sent a cancellation.",
    "attendance": "Attendance saved.",
}


def _to_event(event: m.Event, notice: str) -> Redirect:
    """Back to the event's page with a notice: a key of ``NOTICES``, or a sentence with the numbers in it."""
    return Redirect(f"/admin/events/{event.id}?notice={quote(notice)}", status_code=303)


@get("/events/{event_id:int}", sync_to_thread=False)
def admin_event(db: DB, event_id: FromPath[int], notice: FromQuery[str] = "") -> Template:
    event = get_or_404(db, m.Event, event_id, "No such event.")
    line = notice_text(notice, NOTICES, notice)
    return Template("admin/event.html", context=_detail_context(db, event, notice=line))


@get("/events/{event_id:int}/answers", sync_to_thread=False)
def admin_answers(db: DB, event_id: FromPath[int]) -> Template:
    """The live answers table (htmx polls this fragment)."""
    event = get_or_404(db, m.Event, event_id, "No such event.")
    return Template("admin/event_answers.html", context=_detail_context(db, event))


@get("/events/{event_id:int}/edit", sync_to_thread=False)
def admin_edit(db: DB, event_id: FromPath[int]) -> Template:
    event = get_or_404(db, m.Event, event_id, "No such event.")
    return _form_page(db, Form(forms.form_data(event)), event)


@post("/events/{event_id:int}/edit", sync_to_thread=False)
def admin_update(
    state: State, db: DB, user: CurrentUser, event_id: FromPath[int], data: FormBody
) -> Template | Redirect:
    event = get_or_404(db, m.Event, event_id, "No such event.")
    form = Form(data)
    values = forms.parse_event_form(db, form)
    if not form.ok:
        return _form_page(db, form, event)
    try:
        result = lifecycle.update_event(db, views.mailer(state), user, event, values, views.now())
    except lifecycle.EventProblem as exc:  # a valid form the event's state refuses (capacity below the yeses)
        form.add_error(exc.field or "title", str(exc))
        refused = _form_page(db, form, event)
        refused.status_code = 409
        return refused
    if result.bumped:
        return _to_event(
            event, f"Saved. The time or place changed, so {result.notified} people were sent an updated invitation."
        )
    return _to_event(event, "saved")


@post("/events/{event_id:int}/publish", sync_to_thread=False)
def admin_publish(db: DB, user: CurrentUser, event_id: FromPath[int]) -> Template | Redirect:
    event = get_or_404(db, m.Event, event_id, "No such event.")
    try:
        lifecycle.publish_event(db, user, event, views.now())
    except lifecycle.EventProblem as exc:
        return Template("admin/event.html", context=_detail_context(db, event, notice=str(exc)), status_code=409)
    return _to_event(event, "published")


@get("/events/{event_id:int}/cancel", sync_to_thread=False)
def admin_cancel_page(db: DB, event_id: FromPath[int]) -> Template:
    event = get_or_404(db, m.Event, event_id, "No such event.")
    counts = rsvp.answer_counts(db, event.id)
    return Template("admin/event_cancel.html", context={"e": event, "when": when_text(event), "counts": counts})


@post("/events/{event_id:int}/cancel", sync_to_thread=False)
def admin_cancel(state: State, db: DB, user: CurrentUser, event_id: FromPath[int]) -> Redirect:
    event = get_or_404(db, m.Event, event_id, "No such event.")
    lifecycle.cancel_event(db, views.mailer(state), user, event, views.now())
    return _to_event(event, "cancelled")


def _audience_context(db: Session, event: m.Event, flt: audience.AudienceFilter, **extra: Any) -> dict[str, Any]:
    topics = db.execute(select(m.Topic.id, m.Topic.name).order_by(m.Topic.name)).all()
    regions = db.execute(select(m.Region.id, m.Region.name).order_by(m.Region.position)).all()
    lists = contact_lists.list_choices(db)
    return {
        "e": event,
        "when": when_text(event),
        "f": flt,
        "org_kinds": list(m.OrgKind),
        "stages": list(m.CareerStage),
        "topics": topics,
        "regions": regions,
        "lists": lists,
        **extra,
    }


@post("/events/{event_id:int}/audience/addresses", sync_to_thread=False)
def admin_audience_addresses(db: DB, user: CurrentUser, event_id: FromPath[int], data: FormBody) -> Template | Redirect:
    """People by email address: known ones found, new ones made private contacts, then the usual preview (a GET)
    with them chosen. With any address that is not one, nothing is created and the page says which."""
    event = get_or_404(db, m.Event, event_id, "No such event.")
    form = Form(data)
    text = form.str("addresses", max_length=100_000)
    found = by_address.contacts_for(db, user, by_address.parse(text), note=f"Invited by address to {event.title}")
    if found.problems or not found.contact_ids:
        problems = found.problems or ["Enter at least one email address."]
        context = _audience_context(db, event, audience.AudienceFilter(), address_problems=problems, addresses=text)
        return Template("admin/audience.html", context=context, status_code=422)
    query = urlencode([("contact", c) for c in found.contact_ids])
    return Redirect(f"/admin/events/{event.id}/audience?{query}", status_code=303)


@get("/events/{event_id:int}/audience", sync_to_thread=False)
def admin_audience(request: Request[Any, Any, Any], db: DB, event_id: FromPath[int]) -> Template:
    event = get_or_404(db, m.Event, event_id, "No such event.")
    query = request.query_params.dict()
    flt = audience.AudienceFilter.from_mapping(query)
    preview = None if flt.is_empty else audience.preview(db, event, flt)
    return Template("admin/audience.html", context=_audience_context(db, event, flt, preview=preview))


@post("/events/{event_id:int}/audience", sync_to_thread=False)
def admin_send(state: State, db: DB, user: CurrentUser, event_id: FromPath[int], data: FormBody) -> Template | Redirect:
    event = get_or_404(db, m.Event, event_id, "No such event.")
    flt = audience.AudienceFilter.from_mapping(data)
    try:
        result = audience.send(db, views.mailer(state), user, event, flt, views.now())
    except lifecycle.EventProblem as exc:
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
    return _to_event(event, msg)


@get("/events/{event_id:int}/attendees.csv", exception_handlers=offload.EXCEPTION_HANDLERS)
async def admin_csv(db: DB, settings: AppSettings, event_id: FromPath[int]) -> Response[Any]:
    """The event is looked up here (its 404 and its slug); its attendees' CSV is made in a worker process
    (architecture.md, Heavy requests)."""
    event = get_or_404(db, m.Event, event_id, "No such event.")
    body = await offload.run_in_session(settings, attendees.attendees_csv, event.id)
    return download(body.encode("utf-8-sig"), CSV, f"{event.slug}-attendees.csv", {"Cache-Control": "no-store"})


@get("/events/{event_id:int}/attendance", sync_to_thread=False)
def admin_attendance_page(db: DB, event_id: FromPath[int]) -> Template:
    event = get_or_404(db, m.Event, event_id, "No such event.")
    rows = attendees.attendee_rows(db, event.id, (S.YES, S.MAYBE, S.WAITLISTED))
    return Template(
        "admin/event_attendance.html",
        context={"e": event, "when": when_text(event), "rows": rows, "started": views.now() >= event.starts_at},
    )


@post("/events/{event_id:int}/attendance", sync_to_thread=False)
def admin_attendance(db: DB, user: CurrentUser, event_id: FromPath[int], data: FormBody) -> Template | Redirect:
    event = get_or_404(db, m.Event, event_id, "No such event.")
    ids = set(Form(data).ids("attended"))
    try:
        attendees.record_attendance(db, user, event, ids, views.now())
    except lifecycle.EventProblem as exc:
        rows = attendees.attendee_rows(db, event.id, (S.YES, S.MAYBE, S.WAITLISTED))
        return Template(
            "admin/event_attendance.html",
            context={"e": event, "when": when_text(event), "rows": rows, "started": False, "problem": str(exc)},
            status_code=409,
        )
    return _to_event(event, "attendance")


@post("/events/{event_id:int}/requests/{request_id:int}/{decision:str}", sync_to_thread=False)
def admin_decide(
    state: State, db: DB, user: CurrentUser, event_id: FromPath[int], request_id: FromPath[int], decision: FromPath[str]
) -> Redirect:
    event = get_or_404(db, m.Event, event_id, "No such event.")
    if decision not in {"approve", "decline"}:
        raise NotFoundException("No such action.")
    try:
        msg = guests.decide_request(
            db, views.mailer(state), user, event, request_id, decision == "approve", views.now()
        )
    except lifecycle.EventProblem as exc:
        msg = str(exc)
    return _to_event(event, msg)


# Saved contact lists (audiences)


@get("/contact-lists", sync_to_thread=False)
def admin_lists(db: DB) -> Template:
    return Template("admin/audience_lists.html", context={"rows": contact_lists.lists_with_sizes(db), "form": Form({})})


@post("/contact-lists", sync_to_thread=False)
def admin_list_create(db: DB, user: CurrentUser, data: FormBody) -> Template | Redirect:
    form = Form(data)
    name = form.line("name", required=True, max_length=200, label="Name")
    description = form.str("description", max_length=2000)
    lst = attempt(form, lambda: contact_lists.create_list(db, user, name, description))
    if lst is None:
        return form_page("admin/audience_lists.html", {"rows": []}, form=form)
    return Redirect(f"/admin/contact-lists/{lst.id}", status_code=303)


def _list_page(db: Session, lst: m.ContactList, notice: str = "") -> Template:
    context = {"lst": lst, "members": contact_lists.members(db, lst.id), "notice": notice}
    return form_page("admin/audience_list.html", context, form=Form({}))


@get("/contact-lists/{list_id:int}", sync_to_thread=False)
def admin_list(db: DB, list_id: FromPath[int]) -> Template:
    return _list_page(db, get_or_404(db, m.ContactList, list_id, "No such list."))


@post("/contact-lists/{list_id:int}/members", sync_to_thread=False)
def admin_list_add(db: DB, user: CurrentUser, list_id: FromPath[int], data: FormBody) -> Template:
    lst = get_or_404(db, m.ContactList, list_id, "No such list.")
    raw = Form(data).str("emails", max_length=200_000, label="Email addresses")
    return _list_page(db, lst, contact_lists.add_members(db, user, lst, raw).sentence())


@post("/contact-lists/{list_id:int}/members/{contact_id:int}/remove", sync_to_thread=False)
def admin_list_remove(db: DB, user: CurrentUser, list_id: FromPath[int], contact_id: FromPath[int]) -> Redirect:
    lst = get_or_404(db, m.ContactList, list_id, "No such list.")
    contact_lists.remove_member(db, user, lst, contact_id)
    return Redirect(f"/admin/contact-lists/{lst.id}", status_code=303)


route_handlers: list[Any] = admin_area(
    "/admin",
    [
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
        admin_audience_addresses,
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
)
