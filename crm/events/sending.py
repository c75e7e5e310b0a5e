"""What the worker sends for events: calendar emails a large send, update or cancellation left over, and
reminders to people who said yes. Safe to run every few minutes (idempotency keys carry the SEQUENCE)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, case, cast, exists, literal, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.events.lifecycle import CALENDAR_HOLDERS, recipients
from crm.events.mail import Mailer, Recipient, host_name, queue_calendar_emails, queue_plain_email

S = m.InvitationStatus


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
    groups: dict[tuple[int, str], list[Recipient]] = {}
    for row in rows:
        event = events[row.event_id]
        if event.status == m.EventStatus.CANCELLED:
            kind = "event_cancel"
        else:
            kind = "event_update" if row.had_earlier else "event_invitation"
        recipient = Recipient(row.id, row.contact_id, row.name, row.email, row.status)
        groups.setdefault((event.id, kind), []).append(recipient)
    for (event_id, kind), people in groups.items():
        event = events[event_id]
        extra = {"changed": "time or place"} if kind == "event_update" else None
        host = host_name(session, event)
        queue_calendar_emails(session, mailer, event, people, kind, host_name=host, extra=extra, now=now)
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
                extra={"soon": soon},
            )
            queued += 1
    return queued
