"""An event's life: create, edit (time or place changes bump SEQUENCE and send updates), publish, cancel; and who
holds it in their calendar. Services never commit."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.accounts.principal import Principal
from crm.directory.reference import slugify
from crm.events import rsvp
from crm.events.mail import INLINE_LIMIT, Mailer, Recipient, host_name, queue_cancellation, queue_update
from crm.timefmt import LONDON

S = m.InvitationStatus
# Changes to these fields bump SEQUENCE and send an update (RFC 5546 §2.1.4: time, and place by our policy).
SIGNIFICANT = ("starts_at", "ends_at", "all_day", "venue", "online_url")
# Who holds the event in their calendar and gets every REQUEST (invitation or update): all but decliners.
CALENDAR_HOLDERS = (S.INVITED, S.YES, S.MAYBE, S.WAITLISTED)
EDITABLE = (
    "title",
    "description",
    "accessibility",
    "host_organisation_id",
    "funding_call_id",
    *SIGNIFICANT,
    "capacity",
    "rsvp_deadline",
    "vcse_min_percent",
    "allow_requests",
    "speed_networking",
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


def _tell_holders(session: Session, event: m.Event, send: Callable[[Recipient, str], object]) -> int:
    """Bump the SEQUENCE and ``send(recipient, host name)`` to everyone who holds the event in their calendar: the
    first ``INLINE_LIMIT`` now, the rest by the worker (``queue_pending``). Returns how many hold it."""
    event.sequence += 1
    session.flush()
    host = host_name(session, event)
    holders = recipients(session, event.id, CALENDAR_HOLDERS)
    for r in holders[:INLINE_LIMIT]:
        send(r, host)
    return len(holders)


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
        changes = [k for k in SIGNIFICANT if before[k] != getattr(event, k)]
        what = "time" if any(k in changes for k in ("starts_at", "ends_at", "all_day")) else "place"
        notified = _tell_holders(
            session, event, lambda r, host: queue_update(session, mailer, event, r, host, what, now)
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
        notified = _tell_holders(
            session, event, lambda r, host: queue_cancellation(session, mailer, event, r, host, now)
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
