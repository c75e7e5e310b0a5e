"""Event rules: create, edit (time or place changes bump SEQUENCE and send updates), publish, cancel, reminders,
public place requests, attendance and the attendee export. Services never commit."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re
import uuid
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import String, case, cast, exists, func, literal, select
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.directory.reference import slugify
from crm.events import rsvp
from crm.events.mail import (
    INLINE_LIMIT,
    PARTSTAT,
    Mailer,
    Recipient,
    queue_calendar_email,
    queue_invitation,
    queue_plain_email,
)
from crm.tokens import Signer, TokenError
from crm.web.auth import Principal
from crm.web.forms import Form

S = m.InvitationStatus
LONDON = ZoneInfo("Europe/London")
# Changes to these fields bump SEQUENCE and send an update (RFC 5546 §2.1.4: time, and place by our policy).
SIGNIFICANT = ("starts_at", "ends_at", "all_day", "venue", "online_url")
# Who holds the event in their calendar and gets every REQUEST (invitation or update): all but decliners.
CALENDAR_HOLDERS = (S.INVITED, S.YES, S.MAYBE, S.WAITLISTED)
EDITABLE = (
    "title",
    "description",
    "host_organisation_id",
    "funding_call_id",
    *SIGNIFICANT,
    "capacity",
    "rsvp_deadline",
    "vcse_min_percent",
    "allow_requests",
    "reminder_offsets_hours",
    "offer_hold_hours",
    "offers_stop_hours",
)


class EventProblem(Exception):
    """A change that cannot be made; ``field`` names the form field to attach the message to."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def snapshot(event: m.Event) -> dict[str, Any]:
    return {name: getattr(event, name) for name in (*EDITABLE, "status", "sequence")}


# ---------------------------------------------------------------------------------------------------- form parsing


def parse_local(raw: str) -> dt.datetime | None:
    """``2026-06-01T09:30`` (datetime-local, Europe/London) → aware UTC; None when unparseable."""
    raw = (raw or "").strip().replace(" ", "T")
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=LONDON)
    return value.astimezone(dt.UTC)


def local_input(value: dt.datetime | None) -> str:
    return "" if value is None else value.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M")


def form_data(event: m.Event) -> dict[str, Any]:
    """An event as the form's raw values (for the edit page)."""
    data: dict[str, Any] = {
        "title": event.title,
        "description": event.description,
        "host_organisation_id": str(event.host_organisation_id or ""),
        "funding_call_id": str(event.funding_call_id or ""),
        "venue": event.venue,
        "online_url": event.online_url,
        "capacity": "" if event.capacity is None else str(event.capacity),
        "rsvp_deadline": local_input(event.rsvp_deadline),
        "vcse_min_percent": "" if not event.vcse_min_percent else str(event.vcse_min_percent),
        "allow_requests": "on" if event.allow_requests else "",
        "reminders": ", ".join(str(h) for h in event.reminder_offsets_hours or []),
        "offer_hold_hours": str(event.offer_hold_hours),
        "offers_stop_hours": str(event.offers_stop_hours),
        "all_day": "on" if event.all_day else "",
    }
    if event.all_day:
        data["starts_at"] = event.starts_at.astimezone(LONDON).strftime("%Y-%m-%d")
        data["ends_at"] = (event.ends_at.astimezone(LONDON) - dt.timedelta(days=1)).strftime("%Y-%m-%d")
    else:
        data["starts_at"] = local_input(event.starts_at)
        data["ends_at"] = local_input(event.ends_at)
    return data


def _id_choice(session: Session, form: Form, name: str, model: Any, label: str) -> int | None:
    raw = form.str(name)
    if not raw:
        return None
    if not raw.isdigit() or session.get(model, int(raw)) is None:
        form.add_error(name, f"Choose a {label} from the list.")
        return None
    return int(raw)


def parse_event_form(session: Session, form: Form) -> dict[str, Any]:
    """Values for ``create_event``/``update_event``; problems are collected on ``form``."""
    values: dict[str, Any] = {
        "title": form.line("title", required=True, max_length=300),
        "description": form.str("description", max_length=20_000),
        "host_organisation_id": _id_choice(session, form, "host_organisation_id", m.Organisation, "host organisation"),
        "funding_call_id": _id_choice(session, form, "funding_call_id", getattr(m, "FundingCall"), "funding call"),  # noqa: B009
        "venue": form.line("venue", max_length=500),
        "online_url": form.line("online_url", max_length=500),
        "all_day": form.bool("all_day"),
        "allow_requests": form.bool("allow_requests"),
    }
    if values["online_url"] and urlsplit(values["online_url"]).scheme not in {"https", "http"}:
        form.add_error("online_url", "Enter the online link as a web address starting with https://.")
    if values["all_day"]:
        start_day = form.date("starts_at", required=True, label="Start")
        end_day = form.date("ends_at", label="End") or start_day
        if start_day:
            values["starts_at"] = dt.datetime.combine(start_day, dt.time(0), LONDON).astimezone(dt.UTC)
        if end_day:
            values["ends_at"] = dt.datetime.combine(end_day + dt.timedelta(days=1), dt.time(0), LONDON).astimezone(
                dt.UTC
            )
    else:
        for name, label in (("starts_at", "Start"), ("ends_at", "End")):
            raw = form.str(name)
            parsed = parse_local(raw)
            if not raw:
                form.add_error(name, f"{label} is required.")
            elif parsed is None:
                form.add_error(name, f"{label} must be a date and time like 2026-06-01 09:30.")
            values[name] = parsed
    if values.get("starts_at") and values.get("ends_at") and values["ends_at"] <= values["starts_at"]:
        form.add_error("ends_at", "The end must be after the start.")
    values["capacity"] = form.int("capacity", minimum=1, label="Capacity")
    raw_deadline = form.str("rsvp_deadline")
    values["rsvp_deadline"] = parse_local(raw_deadline) if raw_deadline else None
    if raw_deadline and values["rsvp_deadline"] is None:
        form.add_error("rsvp_deadline", "RSVP deadline must be a date and time like 2026-05-25 17:00.")
    elif values["rsvp_deadline"] and values.get("starts_at") and values["rsvp_deadline"] > values["starts_at"]:
        form.add_error("rsvp_deadline", "The RSVP deadline must be before the event starts.")
    pct = form.int("vcse_min_percent", minimum=0, label="VCSE share")
    if pct is not None and pct > 100:
        form.add_error("vcse_min_percent", "VCSE share must be between 0 and 100.")
    if pct and values["capacity"] is None:
        form.add_error("vcse_min_percent", "A sector balance needs a capacity.")
    values["vcse_min_percent"] = pct or None
    reminders_raw = form.str("reminders", max_length=100)
    offsets: list[int] = []
    for part in re.split(r"[,\s]+", reminders_raw):
        if not part:
            continue
        if not part.isdigit() or not 1 <= int(part) <= 24 * 60:
            form.add_error("reminders", "Reminders are hours before the start, e.g. 168, 24 (up to 1440).")
            break
        offsets.append(int(part))
    values["reminder_offsets_hours"] = sorted(set(offsets), reverse=True) if "reminders" in form.data else [168, 24]
    values["offer_hold_hours"] = form.int("offer_hold_hours", minimum=1, label="Offer hold time") or 48
    stop = form.int("offers_stop_hours", minimum=0, label="Offers stop")
    values["offers_stop_hours"] = 24 if stop is None else stop
    return values


# ---------------------------------------------------------------------------------------------------- changes


def event_uid(base_url: str) -> str:
    host = urlsplit(base_url).hostname or "roundtable.invalid"
    return f"evt-{uuid.uuid4()}@{host}"


def unique_slug(session: Session, title: str, starts_at: dt.datetime | None, exclude_id: int | None = None) -> str:
    base = slugify(title, 200)
    if starts_at:
        base = f"{base}-{starts_at.astimezone(LONDON):%Y-%m-%d}"
    taken = set(
        session.scalars(
            select(m.Event.slug).where(m.Event.slug.startswith(base, autoescape=True), m.Event.id != (exclude_id or 0))
        )
    )
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def create_event(session: Session, actor: Principal | None, base_url: str, values: dict[str, Any]) -> m.Event:
    event = m.Event(
        uid=event_uid(base_url),
        slug=unique_slug(session, values["title"], values.get("starts_at")),
        status=m.EventStatus.DRAFT,
        sequence=0,
        **{k: v for k, v in values.items() if k in EDITABLE},
    )
    session.add(event)
    session.flush()
    audit.record(
        session, actor, "created", "event", event.id, summary=event.title, changes=audit.diff({}, snapshot(event))
    )
    return event


def host_name(session: Session, event: m.Event) -> str:
    if event.host_organisation_id is None:
        return ""
    return session.scalar(select(m.Organisation.name).where(m.Organisation.id == event.host_organisation_id)) or ""


def recipients(session: Session, event_id: int, statuses: tuple[m.InvitationStatus, ...]) -> list[Recipient]:
    """Invited people with these statuses who can receive email (one statement)."""
    rows = session.execute(
        select(m.Invitation.id, m.Invitation.contact_id, m.Contact.name, m.Contact.email, m.Invitation.status)
        .join(m.Contact, m.Contact.id == m.Invitation.contact_id)
        .where(
            m.Invitation.event_id == event_id,
            m.Invitation.status.in_(statuses),
            m.Invitation.invited_at.is_not(None),
            m.Contact.email.is_not(None),
            m.Contact.erased_at.is_(None),
        )
        .order_by(m.Invitation.id)
    )
    return [Recipient(*row) for row in rows]


@dataclasses.dataclass(frozen=True, slots=True)
class UpdateResult:
    bumped: bool
    notified: int


def update_event(
    session: Session,
    mailer: Mailer,
    actor: Principal | None,
    event: m.Event,
    values: dict[str, Any],
    now: dt.datetime,
) -> UpdateResult:
    """Apply an edit. Time or place changes bump SEQUENCE and send an update to everyone who has not declined."""
    locked = rsvp.lock_event(session, event.id)
    assert locked is not None
    event = locked
    if event.status == m.EventStatus.CANCELLED:
        raise EventProblem("This event was cancelled; it can no longer be changed.")
    new_capacity = values.get("capacity", event.capacity)
    if new_capacity is not None:
        yes = session.scalar(
            select(func.count()).where(m.Invitation.event_id == event.id, m.Invitation.status == S.YES)
        )
        if yes and new_capacity < yes:
            raise EventProblem(
                f"Capacity cannot be {new_capacity}: {yes} people have already said yes. "
                f"Set it to {yes} or more, or ask people to withdraw first.",
                field="capacity",
            )
    before = snapshot(event)
    for key, value in values.items():
        if key in EDITABLE:
            setattr(event, key, value)
    significant = any(before[k] != getattr(event, k) for k in SIGNIFICANT)
    notified = 0
    if significant and event.status == m.EventStatus.PUBLISHED:
        event.sequence += 1
        session.flush()
        host = host_name(session, event)
        changes = [k for k in SIGNIFICANT if before[k] != getattr(event, k)]
        what = "time" if any(k in changes for k in ("starts_at", "ends_at", "all_day")) else "place"
        holders = recipients(session, event.id, CALENDAR_HOLDERS)
        notified = len(holders)
        for r in holders[:INLINE_LIMIT]:  # the worker queues the rest (queue_pending)
            queue_calendar_email(
                session,
                mailer,
                event,
                r,
                kind="event_update",
                key=f"invite:{event.id}:{r.contact_id}:{event.sequence}",
                template="event_update",
                method="REQUEST",
                partstat="NEEDS-ACTION",
                host_name=host,
                extra={"changed": what},
                now=now,
            )
        # Reminders queued for the old time must not go out.
        rsvp.cancel_queued(session, kind="event_reminder", key_prefix=f"reminder:{event.id}:")
    if (
        new_capacity is None
        or before["capacity"] is None
        or new_capacity > before["capacity"]
        or event.vcse_min_percent != before["vcse_min_percent"]
    ):
        session.flush()
        rsvp.fill_places(session, mailer, event, now)
    changes_diff = audit.diff(before, snapshot(event))
    if changes_diff:
        audit.record(session, actor, "updated", "event", event.id, summary=event.title, changes=changes_diff)
    session.flush()
    return UpdateResult(bumped=significant and event.status == m.EventStatus.PUBLISHED, notified=notified)


def publish_event(session: Session, actor: Principal | None, event: m.Event, now: dt.datetime) -> None:
    if event.status == m.EventStatus.CANCELLED:
        raise EventProblem("A cancelled event cannot be published again.")
    if event.status == m.EventStatus.PUBLISHED:
        return
    event.status = m.EventStatus.PUBLISHED
    event.published_at = now
    audit.record(
        session, actor, "published", "event", event.id, summary=event.title, changes={"status": ["draft", "published"]}
    )
    session.flush()


def cancel_event(session: Session, mailer: Mailer, actor: Principal | None, event: m.Event, now: dt.datetime) -> int:
    """METHOD:CANCEL (SEQUENCE+1, STATUS:CANCELLED) to everyone invited who has not declined; stops reminders/offers."""
    locked = rsvp.lock_event(session, event.id)
    assert locked is not None
    event = locked
    if event.status == m.EventStatus.CANCELLED:
        return 0
    was = event.status
    event.status = m.EventStatus.CANCELLED
    event.cancelled_at = now
    notified = 0
    if was == m.EventStatus.PUBLISHED:
        event.sequence += 1
        session.flush()
        host = host_name(session, event)
        holders = recipients(session, event.id, CALENDAR_HOLDERS)
        notified = len(holders)
        for r in holders[:INLINE_LIMIT]:  # the worker queues the rest (queue_pending)
            queue_calendar_email(
                session,
                mailer,
                event,
                r,
                kind="event_cancel",
                key=f"cancel:{event.id}:{r.contact_id}:{event.sequence}",
                template="event_cancelled",
                method="CANCEL",
                partstat="NEEDS-ACTION",
                host_name=host,
                now=now,
            )
    rsvp.cancel_queued(session, kind="event_reminder", key_prefix=f"reminder:{event.id}:")
    rsvp.cancel_queued(session, kind="event_offer", key_prefix=f"offer:{event.id}:")
    audit.record(
        session,
        actor,
        "cancelled",
        "event",
        event.id,
        summary=event.title,
        changes={"status": [was.value, "cancelled"]},
    )
    session.flush()
    return notified


# ---------------------------------------------------------------------------------------------------- RSVP links


def read_rsvp(session: Session, signer: Signer, token: str) -> tuple[m.Event, m.Invitation, m.Contact]:
    try:
        data = signer.verify("rsvp", token)
    except TokenError as exc:
        raise rsvp.RsvpProblem(str(exc) + " Nothing was changed.") from exc
    if not isinstance(data, dict) or not isinstance(data.get("e"), int) or not isinstance(data.get("c"), int):
        raise rsvp.RsvpProblem("This link is not valid. It may have been changed or cut short. Nothing was changed.")
    invitation = session.scalar(
        select(m.Invitation).where(m.Invitation.event_id == data["e"], m.Invitation.contact_id == data["c"])
    )
    event = session.get(m.Event, data["e"]) if invitation else None
    contact = session.get(m.Contact, data["c"]) if invitation else None
    if invitation is None or event is None or contact is None or contact.erased_at is not None:
        raise rsvp.RsvpProblem(
            "We could not find an invitation for this link. It may belong to another event. Nothing was changed."
        )
    return event, invitation, contact


def answer_by_token(
    session: Session, mailer: Mailer, token: str, answer: str, note: str | None, now: dt.datetime
) -> tuple[m.Event, m.Invitation, rsvp.Outcome]:
    event, invitation, _contact = read_rsvp(session, mailer.signer, token)
    locked = rsvp.lock_event(session, event.id)
    assert locked is not None
    session.refresh(invitation)
    outcome = rsvp.apply_answer(session, mailer, locked, invitation, answer, note, now)
    return locked, invitation, outcome


def current_ics(
    session: Session, mailer: Mailer, event: m.Event, invitation: m.Invitation, contact: m.Contact, now: dt.datetime
) -> str:
    from crm.events.mail import itip_for

    if contact.email is None:
        raise rsvp.RsvpProblem("This invitation has no email address any more.")
    method = "CANCEL" if event.status == m.EventStatus.CANCELLED else "REQUEST"
    partstat = PARTSTAT.get(invitation.status, "NEEDS-ACTION")
    return itip_for(mailer, event, contact.name, contact.email, method=method, partstat=partstat, now=now).text


# ---------------------------------------------------------------------------------------------------- pending sends


def queue_pending(session: Session, mailer: Mailer, now: dt.datetime, batch: int = 500) -> int:
    """Queue the calendar emails a large send, update or cancellation left for the worker (one batch).

    Everyone who holds the event (invited, yes, maybe, waitlisted) must have the current SEQUENCE's message: an
    invitation (or an update, if they had an earlier one) for a published event, a cancellation for a cancelled
    one. Rows whose idempotency key is already in the outbox are done; the anti-join is one statement.
    """
    inv, ev, c = m.Invitation, m.Event, m.Contact
    prefix = literal("invite:") + cast(inv.event_id, String) + ":" + cast(inv.contact_id, String) + ":"
    sequence = cast(ev.sequence, String)
    kind_prefix = case((ev.status == m.EventStatus.CANCELLED, literal("cancel:")), else_=literal("invite:"))
    key = kind_prefix + cast(inv.event_id, String) + ":" + cast(inv.contact_id, String) + ":" + sequence
    done = exists().where(m.OutboxMessage.idempotency_key == key)
    had_earlier = exists().where(m.OutboxMessage.idempotency_key.startswith(prefix))
    rows = session.execute(
        select(inv.id, inv.contact_id, c.name, c.email, inv.status, inv.event_id, had_earlier.label("had_earlier"))
        .join(ev, ev.id == inv.event_id)
        .join(c, c.id == inv.contact_id)
        .where(
            ev.status.in_((m.EventStatus.PUBLISHED, m.EventStatus.CANCELLED)),
            ev.starts_at > now,
            inv.status.in_(CALENDAR_HOLDERS),
            inv.invited_at.is_not(None),
            c.email.is_not(None),
            c.erased_at.is_(None),
            ~done,
        )
        .order_by(inv.id)
        .limit(batch)
    ).all()
    events = {e.id: e for e in session.scalars(select(m.Event).where(m.Event.id.in_({r.event_id for r in rows})))}
    hosts: dict[int, str] = {}
    for row in rows:
        event = events[row.event_id]
        host = hosts.setdefault(event.id, host_name(session, event))
        recipient = Recipient(row.id, row.contact_id, row.name, row.email, row.status)
        if event.status == m.EventStatus.CANCELLED:
            queue_calendar_email(
                session,
                mailer,
                event,
                recipient,
                kind="event_cancel",
                key=f"cancel:{event.id}:{row.contact_id}:{event.sequence}",
                template="event_cancelled",
                method="CANCEL",
                host_name=host,
                now=now,
            )
        elif row.had_earlier:
            queue_calendar_email(
                session,
                mailer,
                event,
                recipient,
                kind="event_update",
                key=f"invite:{event.id}:{row.contact_id}:{event.sequence}",
                template="event_update",
                method="REQUEST",
                host_name=host,
                extra={"changed": "time or place"},
                now=now,
            )
        else:
            queue_invitation(session, mailer, event, recipient, host, now=now)
    return len(rows)


# ---------------------------------------------------------------------------------------------------- reminders


def queue_reminders(session: Session, mailer: Mailer, now: dt.datetime) -> int:
    """Remind those who said yes, at the latest offset that is due (e.g. 7 days, then 1 day before).

    Keys ``reminder:{event}:{contact}:{offset}:{sequence}`` make it safe to run every few minutes; only people
    still ``yes`` on a still-published event are queued, and cancelling or declining cancels queued ones.
    """
    horizon = now + dt.timedelta(hours=24 * 60)
    events = list(
        session.scalars(
            select(m.Event).where(
                m.Event.status == m.EventStatus.PUBLISHED, m.Event.starts_at > now, m.Event.starts_at <= horizon
            )
        )
    )
    queued = 0
    for event in events:
        due = [h for h in (event.reminder_offsets_hours or []) if event.starts_at - dt.timedelta(hours=int(h)) <= now]
        if not due:
            continue
        offset = min(int(h) for h in due)
        people = recipients(session, event.id, (S.YES,))
        if not people:
            continue
        keys = {r.contact_id: f"reminder:{event.id}:{r.contact_id}:{offset}:{event.sequence}" for r in people}
        existing = set(
            session.scalars(
                select(m.OutboxMessage.idempotency_key).where(m.OutboxMessage.idempotency_key.in_(keys.values()))
            )
        )
        hours_left = (event.starts_at - now).total_seconds() / 3600
        soon = f"in {round(hours_left)} hours" if hours_left < 48 else f"in {round(hours_left / 24)} days"
        for r in people:
            if keys[r.contact_id] in existing:
                continue
            queue_plain_email(
                session,
                mailer,
                event,
                r,
                kind="event_reminder",
                key=keys[r.contact_id],
                template="event_reminder",
                extra={"soon": soon},
            )
            queued += 1
    return queued


# ---------------------------------------------------------------------------------------------------- place requests


def request_place(
    session: Session, event: m.Event, name: str, email: str, organisation: str, note: str, now: dt.datetime
) -> m.PlaceRequest:
    if event.status != m.EventStatus.PUBLISHED or not event.allow_requests or now >= event.starts_at:
        raise EventProblem("This event is not taking requests for places.")
    existing = session.scalar(
        select(m.PlaceRequest).where(
            m.PlaceRequest.event_id == event.id,
            m.PlaceRequest.email == email,
            m.PlaceRequest.status == m.PlaceRequestStatus.PENDING,
        )
    )
    if existing:
        existing.name, existing.organisation_name, existing.note = name, organisation, note
        return existing
    request = m.PlaceRequest(
        event_id=event.id, name=name, email=email, organisation_name=organisation, note=note, created_at=now
    )
    session.add(request)
    session.flush()
    return request


def decide_request(
    session: Session,
    mailer: Mailer,
    actor: Principal | None,
    event: m.Event,
    request_id: int,
    approve: bool,
    now: dt.datetime,
) -> str:
    request = session.get(m.PlaceRequest, request_id)
    if request is None or request.event_id != event.id:
        raise EventProblem("No such request for this event.")
    if request.status != m.PlaceRequestStatus.PENDING:
        return f"This request was already {request.status.value}."
    request.decided_at = now
    if not approve:
        request.status = m.PlaceRequestStatus.DECLINED
        audit.record(session, actor, "declined request", "event", event.id, summary=f"place request {request.id}")
        return "Request declined. Nothing was sent."
    locked = rsvp.lock_event(session, event.id)
    assert locked is not None
    event = locked
    if event.status != m.EventStatus.PUBLISHED:
        raise EventProblem("Publish the event before approving requests.")
    contact = session.scalar(select(m.Contact).where(m.Contact.email == request.email))
    if contact is None:
        contact = m.Contact(name=request.name, email=request.email, notes=f"Requested a place at {event.title}.")
        session.add(contact)
        session.flush()
    invitation = session.scalar(
        select(m.Invitation).where(m.Invitation.event_id == event.id, m.Invitation.contact_id == contact.id)
    )
    if invitation is None:
        invitation = m.Invitation(
            event_id=event.id,
            contact_id=contact.id,
            is_vcse=_is_vcse(session, contact.id),
            source="request",
            created_at=now,
        )
        session.add(invitation)
        session.flush()
    outcome = rsvp.apply_answer(
        session, mailer, event, invitation, "yes", request.note or None, now, source="request", check_window=False
    )
    invitation.invited_at = invitation.invited_at or now
    request.status = m.PlaceRequestStatus.APPROVED
    request.contact_id = contact.id
    queue_invitation(
        session,
        mailer,
        event,
        Recipient(invitation.id, contact.id, contact.name, contact.email or request.email, invitation.status),
        host_name(session, event),
        now=now,
    )
    audit.record(
        session,
        actor,
        "approved request",
        "event",
        event.id,
        summary=f"place request {request.id}: {outcome.status.value}",
    )
    session.flush()
    if outcome.status == S.WAITLISTED:
        return f"Approved. The event is full, so {request.name} is on the waitlist at position {outcome.position}."
    return f"Approved. {request.name} has a place and was sent the invitation."


def _is_vcse(session: Session, contact_id: int) -> bool:
    return bool(
        session.scalar(
            select(func.count())
            .select_from(m.Affiliation)
            .join(m.Organisation, m.Organisation.id == m.Affiliation.organisation_id)
            .where(m.Affiliation.contact_id == contact_id, m.Organisation.kind == m.OrgKind.VCSE)
        )
    )


# ---------------------------------------------------------------------------------------------------- attendees


def attendee_rows(
    session: Session, event_id: int, statuses: tuple[m.InvitationStatus, ...] | None = None, limit: int | None = None
) -> list[Any]:
    """Invitations with the contact's name, email and primary organisation (one statement)."""
    primary_org = (
        select(m.Organisation.name)
        .join(m.Affiliation, m.Affiliation.organisation_id == m.Organisation.id)
        .where(m.Affiliation.contact_id == m.Invitation.contact_id)
        .order_by(m.Affiliation.is_primary.desc(), m.Affiliation.id)
        .limit(1)
        .correlate(m.Invitation)
        .scalar_subquery()
    )
    query = (
        select(
            m.Invitation.id,
            m.Invitation.contact_id,
            m.Contact.name,
            m.Contact.email,
            primary_org.label("organisation"),
            m.Invitation.status,
            m.Invitation.is_vcse,
            m.Invitation.responded_at,
            m.Invitation.waitlisted_at,
            m.Invitation.offer_expires_at,
            m.Invitation.note,
            m.Invitation.attended,
            m.Invitation.source,
        )
        .join(m.Contact, m.Contact.id == m.Invitation.contact_id)
        .where(m.Invitation.event_id == event_id)
        .order_by(STATUS_ORDER, m.Invitation.waitlisted_at, m.Contact.name, m.Invitation.id)
    )
    if statuses:
        query = query.where(m.Invitation.status.in_(statuses))
    if limit:
        query = query.limit(limit)
    return list(session.execute(query))


STATUS_ORDER = case(
    {S.YES: 0, S.WAITLISTED: 1, S.MAYBE: 2, S.NO: 3, S.LAPSED: 4},
    value=m.Invitation.status,
    else_=5,
)


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # CSV injection: a cell starting with = + - @ (or a tab/CR) would be a formula in a spreadsheet.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def attendees_csv(session: Session, event: m.Event) -> str:
    from crm.timefmt import format_datetime

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["name", "email", "organisation", "sector", "answer", "answered at (UK)", "note", "attended"])
    for r in attendee_rows(session, event.id, (S.YES, S.WAITLISTED, S.MAYBE)):
        writer.writerow(
            [
                _cell(r.name),
                _cell(r.email),
                _cell(r.organisation),
                "VCSE" if r.is_vcse else "other",
                r.status.value,
                format_datetime(r.responded_at),
                _cell(r.note),
                "" if r.attended is None else ("yes" if r.attended else "no"),
            ]
        )
    return out.getvalue()


def record_attendance(
    session: Session, actor: Principal | None, event: m.Event, attended_ids: set[int], now: dt.datetime
) -> int:
    if now < event.starts_at:
        raise EventProblem("Attendance can be recorded once the event has started.")
    rows = list(
        session.scalars(
            select(m.Invitation).where(
                m.Invitation.event_id == event.id, m.Invitation.status.in_((S.YES, S.MAYBE, S.WAITLISTED))
            )
        )
    )
    changed = 0
    for invitation in rows:
        value = invitation.id in attended_ids
        if invitation.attended != value:
            invitation.attended = value
            changed += 1
    audit.record(session, actor, "recorded attendance", "event", event.id, summary=f"{len(attended_ids)} attended")
    session.flush()
    return changed
