"""Answers, capacity, the sector balance, the waitlist and waitlist offers.

Rules (docs/events.md):

- A *place* is taken by a ``yes`` or by a waitlisted person holding an offer that has not expired yet.
- Capacity ``None`` means unlimited. When the places are taken, a yes goes on the waitlist (ordered by when the
  person joined it).
- Sector balance ``vcse_min_percent = p``: non-VCSE people may take at most ``floor(capacity * (100 - p) / 100)``
  places; a non-VCSE yes beyond that goes on the waitlist even if places are free (they are kept for VCSE staff).
- When a place frees up (a withdrawal, a lapsed offer, a larger capacity), the first waitlisted person who fits is
  offered it by email with ``offer_hold_hours`` to accept; an offer not taken in time lapses and passes on. No
  offers are made within ``offers_stop_hours`` of the start.
- Answers can change until the RSVP deadline (and never after the start, or for a cancelled event).

Every answer that changes something writes an ``RsvpResponse`` with its time; the event row is locked
(``FOR UPDATE`` on PostgreSQL) so two simultaneous yeses cannot both take the last place.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from crm import models as m
from crm.events.mail import Mailer, Recipient, host_name, offer_token, queue_confirmation, queue_plain_email
from crm.tokens import Signer, TokenError

S = m.InvitationStatus
ANSWERS = {"yes": S.YES, "maybe": S.MAYBE, "no": S.NO}


class RsvpProblem(Exception):
    """The answer cannot be taken; ``str(exc)`` tells the person what happened."""


@dataclasses.dataclass(frozen=True, slots=True)
class Places:
    capacity: int | None
    yes: int
    yes_non_vcse: int
    held: int  # waitlisted people holding a live offer
    held_non_vcse: int
    waitlisted: int
    non_vcse_limit: int | None

    @property
    def taken(self) -> int:
        return self.yes + self.held

    @property
    def free(self) -> int | None:
        return None if self.capacity is None else max(0, self.capacity - self.taken)


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    status: m.InvitationStatus
    changed: bool
    message: str
    position: int | None = None


def non_vcse_limit(event: m.Event) -> int | None:
    if event.capacity is None or not event.vcse_min_percent:
        return None
    return (event.capacity * (100 - event.vcse_min_percent)) // 100


def places(session: Session, event: m.Event, now: dt.datetime, exclude_invitation: int | None = None) -> Places:
    """One statement: the counts capacity decisions need."""
    inv = m.Invitation
    live_offer = and_(inv.status == S.WAITLISTED, inv.offer_expires_at.is_not(None), inv.offer_expires_at > now)
    query = select(
        func.count().filter(inv.status == S.YES),
        func.count().filter(inv.status == S.YES, inv.is_vcse.is_(False)),
        func.count().filter(live_offer),
        func.count().filter(live_offer, inv.is_vcse.is_(False)),
        func.count().filter(inv.status == S.WAITLISTED),
    ).where(inv.event_id == event.id)
    if exclude_invitation is not None:
        query = query.where(inv.id != exclude_invitation)
    yes, yes_nv, held, held_nv, waitlisted = session.execute(query).one()
    return Places(event.capacity, yes, yes_nv, held, held_nv, waitlisted, non_vcse_limit(event))


def fits(p: Places, is_vcse: bool) -> bool:
    if p.capacity is not None and p.taken >= p.capacity:
        return False
    return not (p.non_vcse_limit is not None and not is_vcse and p.yes_non_vcse + p.held_non_vcse >= p.non_vcse_limit)


def waitlist_position(session: Session, invitation: m.Invitation) -> int | None:
    if invitation.status != S.WAITLISTED or invitation.waitlisted_at is None:
        return None
    inv = m.Invitation
    ahead = session.scalar(
        select(func.count()).where(
            inv.event_id == invitation.event_id,
            inv.status == S.WAITLISTED,
            or_(
                inv.waitlisted_at < invitation.waitlisted_at,
                and_(inv.waitlisted_at == invitation.waitlisted_at, inv.id < invitation.id),
            ),
        )
    )
    return int(ahead or 0) + 1


def lock_event(session: Session, event_id: int) -> m.Event | None:
    query = select(m.Event).where(m.Event.id == event_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalar(query.execution_options(populate_existing=True))


def answer_window_problem(event: m.Event, now: dt.datetime) -> str | None:
    if event.status == m.EventStatus.CANCELLED:
        return "This event has been cancelled, so answers are closed. Nothing was changed."
    if event.status != m.EventStatus.PUBLISHED:
        return "This event is not open for answers yet. Nothing was changed."
    if now >= event.starts_at:
        return "This event has already started, so answers are closed. Nothing was changed."
    if event.rsvp_deadline is not None and now > event.rsvp_deadline:
        return "The deadline for answers has passed, so your answer was not changed."
    return None


def cancel_queued(session: Session, *, kind: str, key_prefix: str, contact_id: int | None = None) -> int:
    """Mark queued (not yet claimed) emails of one kind for an event ``cancelled`` so they are never sent."""
    query = update(m.OutboxMessage).where(
        m.OutboxMessage.kind == kind,
        m.OutboxMessage.status.in_((m.OutboxStatus.QUEUED, m.OutboxStatus.RETRY)),
        m.OutboxMessage.idempotency_key.startswith(key_prefix, autoescape=True),
    )
    if contact_id is not None:
        query = query.where(m.OutboxMessage.contact_id == contact_id)
    result = session.execute(query.values(status=m.OutboxStatus.CANCELLED, last_error="no longer relevant"))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _record(session: Session, invitation: m.Invitation, answer: str, note: str, source: str, now: dt.datetime) -> None:
    session.add(
        m.RsvpResponse(
            invitation_id=invitation.id,
            answer=answer,
            result=invitation.status.value,
            note=note,
            source=source,
            at=now,
        )
    )


# Answers the person gave themselves get a "you have a place" email with the updated calendar; an approved request
# for a place gets its invitation instead, and demo answers get nothing.
CONFIRMED_SOURCES = frozenset({"link", "waitlist-offer", "calendar"})


def apply_answer(
    session: Session,
    mailer: Mailer | None,
    event: m.Event,
    invitation: m.Invitation,
    answer: str,
    note: str | None,
    now: dt.datetime,
    source: str = "link",
    check_window: bool = True,
) -> Outcome:
    """Take an answer for a locked event. Idempotent: the same answer twice changes nothing the second time."""
    if answer not in ANSWERS:
        raise RsvpProblem("Choose yes, maybe or no.")
    if check_window and (problem := answer_window_problem(event, now)):
        raise RsvpProblem(problem)
    wanted = ANSWERS[answer]
    before = invitation.status
    note_changed = note is not None and note != invitation.note
    if note is not None:
        invitation.note = note
    had_place = before == S.YES or (
        before == S.WAITLISTED and invitation.offer_expires_at is not None and invitation.offer_expires_at > now
    )
    if wanted == S.YES:
        if before == S.YES:
            status = S.YES
        else:
            p = places(session, event, now, exclude_invitation=invitation.id)
            status = S.YES if fits(p, invitation.is_vcse) else S.WAITLISTED
        if status == S.YES:
            invitation.status = S.YES
            invitation.waitlisted_at = None
            invitation.offer_expires_at = None
        elif before != S.WAITLISTED:
            invitation.status = S.WAITLISTED
            invitation.waitlisted_at = now
            invitation.offer_expires_at = None
    else:
        invitation.status = wanted
        invitation.waitlisted_at = None
        invitation.offer_expires_at = None
    changed = invitation.status != before
    if changed or note_changed:
        invitation.responded_at = now
        session.flush()
        _record(session, invitation, answer, invitation.note, source, now)
    if changed and invitation.status != S.YES:
        prefix = f"reminder:{event.id}:"
        cancel_queued(session, kind="event_reminder", key_prefix=prefix, contact_id=invitation.contact_id)
        cancel_queued(session, kind="event_offer", key_prefix=f"offer:{event.id}:", contact_id=invitation.contact_id)
    session.flush()
    if changed and invitation.status == S.YES and mailer is not None and source in CONFIRMED_SOURCES:
        queue_confirmation(session, mailer, event, invitation, host_name(session, event), now)
    if changed and had_place and invitation.status != S.YES and mailer is not None:
        fill_places(session, mailer, event, now)
    position = waitlist_position(session, invitation)
    return Outcome(invitation.status, changed or note_changed, _message(invitation.status, position, changed), position)


def _message(status: m.InvitationStatus, position: int | None, changed: bool) -> str:
    if status == S.YES:
        return "You're coming. We've saved your answer." if changed else "Your answer was already yes. Nothing changed."
    if status == S.WAITLISTED:
        return (
            f"The event is full, so you're on the waitlist at position {position}. "
            "If a place frees up we'll email you an offer."
        )
    if status == S.MAYBE:
        return "We've saved your answer: maybe. You can change it until the deadline."
    if status == S.NO:
        return "We've saved your answer: you can't come. Thank you for letting us know."
    return "We've saved your answer."


def fill_places(session: Session, mailer: Mailer, event: m.Event, now: dt.datetime) -> int:
    """Offer free places to the waitlist, first come first served, respecting the sector balance."""
    if event.status != m.EventStatus.PUBLISHED:
        return 0
    if now >= event.starts_at - dt.timedelta(hours=event.offers_stop_hours):
        return 0
    inv = m.Invitation
    waiting = list(
        session.execute(
            select(inv, m.Contact.name, m.Contact.email)
            .join(m.Contact, m.Contact.id == inv.contact_id)
            .where(
                inv.event_id == event.id,
                inv.status == S.WAITLISTED,
                or_(inv.offer_expires_at.is_(None), inv.offer_expires_at <= now),
                m.Contact.email.is_not(None),
            )
            .order_by(inv.waitlisted_at, inv.id)
        )
    )
    if not waiting:
        return 0
    p = places(session, event, now)
    made = 0
    for invitation, name, email in waiting:
        if not fits(p, invitation.is_vcse):
            if p.capacity is not None and p.taken >= p.capacity:
                break
            continue  # a non-VCSE person while the remaining places are kept for VCSE staff
        expires = min(now + dt.timedelta(hours=event.offer_hold_hours), event.starts_at)
        invitation.offer_expires_at = expires
        _record(session, invitation, "offer", "", "waitlist", now)
        token = offer_token(mailer.signer, invitation.id, expires)
        queue_plain_email(
            session,
            mailer,
            event,
            Recipient(invitation.id, invitation.contact_id, name, email, invitation.status),
            kind="event_offer",
            key=f"offer:{event.id}:{invitation.contact_id}:{event.sequence}:{int(expires.timestamp())}",
            extra={
                "offer_url": f"{mailer.base_url}/waitlist-offer/{token}",
                "offer_expires": _fmt(expires),
            },
        )
        p = dataclasses.replace(p, held=p.held + 1, held_non_vcse=p.held_non_vcse + (0 if invitation.is_vcse else 1))
        made += 1
    session.flush()
    return made


def _fmt(value: dt.datetime) -> str:
    from crm.timefmt import format_datetime

    return format_datetime(value) + " (UK time)"


def expire_offers(session: Session, mailer: Mailer, now: dt.datetime) -> int:
    """Offers not taken in time lapse (the person leaves the waitlist) and pass on to the next person."""
    inv = m.Invitation
    lapsed = list(
        session.scalars(
            select(inv).where(
                inv.status == S.WAITLISTED, inv.offer_expires_at.is_not(None), inv.offer_expires_at <= now
            )
        )
    )
    event_ids: set[int] = set()
    for invitation in lapsed:
        invitation.status = S.LAPSED
        invitation.offer_expires_at = None
        invitation.waitlisted_at = None
        _record(session, invitation, "offer", "", "offer-lapsed", now)
        event_ids.add(invitation.event_id)
    session.flush()
    for event_id in sorted(event_ids):
        event = lock_event(session, event_id)
        if event is not None:
            fill_places(session, mailer, event, now)
    return len(lapsed)


def fill_all(session: Session, mailer: Mailer, now: dt.datetime) -> int:
    """Offer places on every upcoming published event that has both a waitlist and a free place."""
    event_ids = list(
        session.scalars(
            select(m.Invitation.event_id)
            .join(m.Event, m.Event.id == m.Invitation.event_id)
            .where(
                m.Invitation.status == S.WAITLISTED,
                m.Event.status == m.EventStatus.PUBLISHED,
                m.Event.starts_at > now,
            )
            .distinct()
        )
    )
    made = 0
    for event_id in event_ids:
        event = lock_event(session, event_id)
        if event is not None:
            made += fill_places(session, mailer, event, now)
    return made


def read_offer(session: Session, signer: Signer, token: str) -> tuple[m.Event, m.Invitation, int]:
    try:
        data = signer.verify("waitlist-offer", token)
    except TokenError as exc:
        raise RsvpProblem(str(exc)) from exc
    if not isinstance(data, dict) or not isinstance(data.get("i"), int) or not isinstance(data.get("x"), int):
        raise RsvpProblem("This link is not valid. It may have been changed or cut short.")
    invitation = session.get(m.Invitation, data["i"])
    if invitation is None:
        raise RsvpProblem("We could not find this offer. It may have been withdrawn.")
    event = session.get(m.Event, invitation.event_id)
    assert event is not None
    return event, invitation, data["x"]


def offer_state(invitation: m.Invitation, stamp: int, now: dt.datetime) -> str:
    """``live``, ``taken``, or ``gone`` (lapsed, replaced by a newer offer, or withdrawn)."""
    if invitation.status == S.YES:
        return "taken"
    if (
        invitation.status == S.WAITLISTED
        and invitation.offer_expires_at is not None
        and int(invitation.offer_expires_at.timestamp()) == stamp
        and invitation.offer_expires_at > now
    ):
        return "live"
    return "gone"


def accept_offer(session: Session, mailer: Mailer, token: str, now: dt.datetime) -> tuple[m.Event, Outcome]:
    event, invitation, stamp = read_offer(session, mailer.signer, token)
    locked = lock_event(session, event.id)
    assert locked is not None
    if problem := answer_window_problem(locked, now):
        raise RsvpProblem(problem)
    session.refresh(invitation)
    state = offer_state(invitation, stamp, now)
    if state == "taken":
        return locked, Outcome(S.YES, False, "You already have this place. See you there.")
    if state == "gone":
        raise RsvpProblem(
            "This offer is no longer open: the time to accept has passed and the place went to the next person. "
            "Nothing was changed."
        )
    invitation.status = S.YES
    invitation.offer_expires_at = None
    invitation.waitlisted_at = None
    invitation.responded_at = now
    _record(session, invitation, "yes", invitation.note, "waitlist-offer", now)
    session.flush()
    queue_confirmation(session, mailer, locked, invitation, host_name(session, locked), now)
    return locked, Outcome(S.YES, True, "The place is yours. We've saved your answer: yes.")


def answer_counts(session: Session, event_id: int) -> dict[str, int]:
    """yes / maybe / no / waitlisted / no answer (+ lapsed, attended) in one statement."""
    inv = m.Invitation
    rows = session.execute(
        select(inv.status, func.count(), func.sum(case((inv.attended.is_(True), 1), else_=0)))
        .where(inv.event_id == event_id)
        .group_by(inv.status)
    ).all()
    counts = {s.value: 0 for s in S}
    attended = 0
    for status, n, att in rows:
        counts[status.value if hasattr(status, "value") else status] = n
        attended += int(att or 0)
    counts["attended"] = attended
    counts["total"] = sum(n for _, n, _ in rows)
    return counts
