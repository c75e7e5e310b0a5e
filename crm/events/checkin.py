"""Check-in on the day: the fellow at the door finds a person, marks them here (or not), and adds walk-ins.

It feeds the same attendance record as the attendance page (``Invitation.attended``), so the impact report counts
everyone who came. Marking is allowed from ``OPENS_BEFORE`` the start (people arrive early) and is idempotent:
tapping twice on a slow connection changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.accounts.principal import Principal
from crm.directory.contacts import create_contact
from crm.errors import FieldErrors
from crm.events.attendees import attendee_rows
from crm.events.lifecycle import EventProblem
from crm.validation import normalise_email

S = m.InvitationStatus
OPENS_BEFORE = dt.timedelta(hours=3)
EXPECTED = (S.YES, S.WAITLISTED, S.MAYBE)
LIMIT = 200  # the door list shows this many matches; a search narrows it


def check_window(event: m.Event, now: dt.datetime) -> str | None:
    """Why check-in is not open now ("" when it is)."""
    if event.status != m.EventStatus.PUBLISHED:
        return "Check-in is for published events."
    if now < event.starts_at - OPENS_BEFORE:
        return "Check-in opens three hours before the event starts."
    return None


def door_list(session: Session, event_id: int, q: str = "") -> list[Any]:
    """Who may turn up (yes, waitlisted, maybe, and walk-ins), not yet here first, then by name; one statement."""
    rows = attendee_rows(session, event_id, EXPECTED, q=q, limit=LIMIT)
    return sorted(rows, key=lambda r: (bool(r.attended), (r.name or "").lower()))


def mark(
    session: Session, actor: Principal | None, event: m.Event, invitation_id: int, here: bool, now: dt.datetime
) -> m.Invitation:
    if problem := check_window(event, now):
        raise EventProblem(problem)
    invitation = session.scalar(
        select(m.Invitation).where(m.Invitation.id == invitation_id, m.Invitation.event_id == event.id)
    )
    if invitation is None:
        raise EventProblem("This person is not on the list for this event.")
    if invitation.attended != here:
        invitation.attended = here
        audit.record(
            session,
            actor,
            "checked in" if here else "unmarked check-in",
            "event",
            event.id,
            summary=f"invitation {invitation.id}",
        )
        session.flush()
    return invitation


def walk_in(
    session: Session,
    actor: Principal | None,
    event: m.Event,
    name: str,
    email: str,
    organisation: str,
    now: dt.datetime,
) -> m.Invitation:
    """Someone who came without an answer (or an invitation): a yes that is here, outside capacity (they are in
    the room). An address we know reuses that contact; a new one becomes a private contact."""
    if problem := check_window(event, now):
        raise EventProblem(problem)
    errors: dict[str, str] = {}
    name = " ".join(name.split())[:200]
    if not name:
        errors["name"] = "Enter the person's name."
    address = ""
    if email.strip():
        try:
            address = normalise_email(email)
        except ValueError:
            errors["email"] = "Enter an email address like name@example.org, or leave it empty."
    if errors:
        raise FieldErrors(errors)
    known = session.scalar(select(m.Contact).where(func.lower(m.Contact.email) == address)) if address else None
    note = f"Walk-in at {event.title}" + (f" ({organisation})" if organisation else "")
    contact = known or create_contact(session, actor, {"name": name, "email": address or None, "notes": note})
    invitation = session.scalar(
        select(m.Invitation).where(m.Invitation.event_id == event.id, m.Invitation.contact_id == contact.id)
    )
    if invitation is None:
        invitation = m.Invitation(
            event_id=event.id, contact_id=contact.id, is_vcse=False, source="walk-in", created_at=now, invited_at=now
        )
        session.add(invitation)
    invitation.status = S.YES
    invitation.responded_at = invitation.responded_at or now
    invitation.attended = True
    if organisation and not invitation.note:
        invitation.note = f"Walk-in from {organisation}"[:2000]
    session.flush()
    audit.record(session, actor, "walk-in", "event", event.id, summary=name)
    return invitation


def counts(rows: list[Any]) -> dict[str, int]:
    here = sum(1 for r in rows if r.attended)
    return {"here": here, "expected": sum(1 for r in rows if r.status == S.YES), "listed": len(rows)}
