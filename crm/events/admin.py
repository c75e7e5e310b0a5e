"""The fellow's events admin pages (/admin): events, their audience and sending, answers, attendance, place
requests, and the saved contact lists invitations can be sent to."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response, Router, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.events import attendees, audience, forms, guests, lifecycle, listing, rsvp, views
from crm.events.mail import when_text
from crm.history import history
from crm.web.auth import admin_guard
from crm.web.deps import DB, AppSettings, CurrentUser
from crm.web.forms import Form, FormBody, normalise_email
from crm.web.listing import ListParams, is_htmx

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


def _form_page(db: Session, form: Form, event: m.Event | None, status_code: int = 200) -> Template:
    return Template(
        "admin/event_form.html", context={"form": form, "e": event, **_choices(db)}, status_code=status_code
    )


@get("/events", sync_to_thread=False)
def admin_events(request: Request[Any, Any, Any], db: DB) -> Template:
    params = ListParams.from_query(request.query_params.dict(), filter_names=listing.ADMIN_FILTERS)
    page = listing.admin_list(db, params, views.now())
    context = {
        "page": page,
        "params": params,
        "sorts": listing.ADMIN_SORTS,
        "statuses": list(m.EventStatus),
        "when": when_text,
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
    values = forms.parse_event_form(db, form)
    if not form.ok:
        return _form_page(db, form, None, status_code=422)
    event = lifecycle.create_event(db, user, settings.base_url, values)
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
        "when": when_text(event),
        "host": db.get(m.Organisation, event.host_organisation_id) if event.host_organisation_id else None,
        "counts": rsvp.answer_counts(db, event.id),
        "places": rsvp.places(db, event, views.now()),
        "rows": attendees.attendee_rows(db, event.id, limit=ANSWERS_SHOWN),
        "rows_limit": ANSWERS_SHOWN,
        "requests": requests,
        "history": history(db, "event", event.id),
        "now": views.now(),
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
    event = views.event_or_404(db, event_id)
    notice = NOTICES.get(saved, "") or msg[:300]
    return Template("admin/event.html", context=_detail_context(db, event, notice=notice))


@get("/events/{event_id:int}/answers", sync_to_thread=False)
def admin_answers(db: DB, event_id: FromPath[int]) -> Template:
    """The live answers table (htmx polls this fragment)."""
    event = views.event_or_404(db, event_id)
    return Template("admin/event_answers.html", context=_detail_context(db, event))


@get("/events/{event_id:int}/edit", sync_to_thread=False)
def admin_edit(db: DB, event_id: FromPath[int]) -> Template:
    event = views.event_or_404(db, event_id)
    return _form_page(db, Form(forms.form_data(event)), event)


@post("/events/{event_id:int}/edit", sync_to_thread=False)
def admin_update(
    state: State, db: DB, user: CurrentUser, event_id: FromPath[int], data: FormBody
) -> Template | Redirect:
    event = views.event_or_404(db, event_id)
    form = Form(data)
    values = forms.parse_event_form(db, form)
    if not form.ok:
        return _form_page(db, form, event, status_code=422)
    try:
        result = lifecycle.update_event(db, views.mailer(state), user, event, values, views.now())
    except lifecycle.EventProblem as exc:
        form.add_error(exc.field or "title", str(exc))
        return _form_page(db, form, event, status_code=409)
    if result.bumped:
        msg = f"Saved. The time or place changed, so {result.notified} people were sent an updated invitation."
        return Redirect(f"/admin/events/{event.id}?msg={quote(msg)}", status_code=303)
    return Redirect(f"/admin/events/{event.id}?saved=saved", status_code=303)


@post("/events/{event_id:int}/publish", sync_to_thread=False)
def admin_publish(db: DB, user: CurrentUser, event_id: FromPath[int]) -> Template | Redirect:
    event = views.event_or_404(db, event_id)
    try:
        lifecycle.publish_event(db, user, event, views.now())
    except lifecycle.EventProblem as exc:
        return Template("admin/event.html", context=_detail_context(db, event, notice=str(exc)), status_code=409)
    return Redirect(f"/admin/events/{event.id}?saved=published", status_code=303)


@get("/events/{event_id:int}/cancel", sync_to_thread=False)
def admin_cancel_page(db: DB, event_id: FromPath[int]) -> Template:
    event = views.event_or_404(db, event_id)
    counts = rsvp.answer_counts(db, event.id)
    return Template("admin/event_cancel.html", context={"e": event, "when": when_text(event), "counts": counts})


@post("/events/{event_id:int}/cancel", sync_to_thread=False)
def admin_cancel(state: State, db: DB, user: CurrentUser, event_id: FromPath[int]) -> Redirect:
    event = views.event_or_404(db, event_id)
    lifecycle.cancel_event(db, views.mailer(state), user, event, views.now())
    return Redirect(f"/admin/events/{event.id}?saved=cancelled", status_code=303)


def _audience_context(db: Session, event: m.Event, flt: audience.AudienceFilter, **extra: Any) -> dict[str, Any]:
    topics = db.execute(select(m.Topic.id, m.Topic.name).order_by(m.Topic.name)).all()
    regions = db.execute(select(m.Region.id, m.Region.name).order_by(m.Region.position)).all()
    lists = db.execute(select(m.ContactList.id, m.ContactList.name).order_by(m.ContactList.name)).all()
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


@get("/events/{event_id:int}/audience", sync_to_thread=False)
def admin_audience(request: Request[Any, Any, Any], db: DB, event_id: FromPath[int]) -> Template:
    event = views.event_or_404(db, event_id)
    query = request.query_params.dict()
    flt = audience.AudienceFilter.from_mapping(query)
    preview = None if flt.is_empty else audience.preview(db, event, flt)
    return Template("admin/audience.html", context=_audience_context(db, event, flt, preview=preview))


@post("/events/{event_id:int}/audience", sync_to_thread=False)
def admin_send(state: State, db: DB, user: CurrentUser, event_id: FromPath[int], data: FormBody) -> Template | Redirect:
    event = views.event_or_404(db, event_id)
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
    return Redirect(f"/admin/events/{event.id}?msg={quote(msg)}", status_code=303)


@get("/events/{event_id:int}/attendees.csv", sync_to_thread=False)
def admin_csv(db: DB, event_id: FromPath[int]) -> Response[Any]:
    event = views.event_or_404(db, event_id)
    body = attendees.attendees_csv(db, event)
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
    event = views.event_or_404(db, event_id)
    rows = attendees.attendee_rows(db, event.id, (S.YES, S.MAYBE, S.WAITLISTED))
    return Template(
        "admin/event_attendance.html",
        context={"e": event, "when": when_text(event), "rows": rows, "started": views.now() >= event.starts_at},
    )


@post("/events/{event_id:int}/attendance", sync_to_thread=False)
def admin_attendance(db: DB, user: CurrentUser, event_id: FromPath[int], data: FormBody) -> Template | Redirect:
    event = views.event_or_404(db, event_id)
    ids = {int(v) for v in Form(data).getlist("attended") if v.isdigit()}
    try:
        attendees.record_attendance(db, user, event, ids, views.now())
    except lifecycle.EventProblem as exc:
        rows = attendees.attendee_rows(db, event.id, (S.YES, S.MAYBE, S.WAITLISTED))
        return Template(
            "admin/event_attendance.html",
            context={"e": event, "when": when_text(event), "rows": rows, "started": False, "problem": str(exc)},
            status_code=409,
        )
    return Redirect(f"/admin/events/{event.id}?saved=attendance", status_code=303)


@post("/events/{event_id:int}/requests/{request_id:int}/{decision:str}", sync_to_thread=False)
def admin_decide(
    state: State, db: DB, user: CurrentUser, event_id: FromPath[int], request_id: FromPath[int], decision: FromPath[str]
) -> Redirect:
    event = views.event_or_404(db, event_id)
    if decision not in {"approve", "decline"}:
        raise NotFoundException("No such action.")
    try:
        msg = guests.decide_request(
            db, views.mailer(state), user, event, request_id, decision == "approve", views.now()
        )
    except lifecycle.EventProblem as exc:
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


route_handlers: list[Any] = [admin_router]
