"""Who is coming to an event: the attendee table (one statement), its CSV export and recorded attendance."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.accounts.principal import Principal
from crm.events.lifecycle import EventProblem
from crm.timefmt import format_datetime

S = m.InvitationStatus


def primary_organisation(invitation: Any = m.Invitation) -> Any:
    """The name of the invited person's primary organisation (else their first), as a correlated subquery."""
    return (
        select(m.Organisation.name)
        .join(m.Affiliation, m.Affiliation.organisation_id == m.Organisation.id)
        .where(m.Affiliation.contact_id == invitation.contact_id)
        .order_by(m.Affiliation.is_primary.desc(), m.Affiliation.id)
        .limit(1)
        .correlate(invitation)
        .scalar_subquery()
    )


def attendee_rows(
    session: Session,
    event_id: int,
    statuses: tuple[m.InvitationStatus, ...] | None = None,
    limit: int | None = None,
    q: str = "",
) -> list[Any]:
    """Invitations with the contact's name, email and primary organisation (one statement); ``q`` keeps those whose
    name, email or organisation contains it."""
    primary_org = primary_organisation()
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
    if words := q.strip().lower()[:100]:
        like = f"%{words}%"
        query = query.where(
            or_(
                func.lower(m.Contact.name).like(like),
                func.lower(m.Contact.email).like(like),
                func.lower(primary_org).like(like),
            )
        )
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


def attendees_csv(session: Session, event_id: int) -> str:
    """The attendee CSV of the event (those who said yes, are waitlisted or said maybe). It takes the event's id, not
    the event, so a worker process can make it (``crm.web.offload``: plain arguments; architecture.md, Heavy
    requests)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["name", "email", "organisation", "sector", "answer", "answered at (UK)", "note", "attended"])
    for r in attendee_rows(session, event_id, (S.YES, S.WAITLISTED, S.MAYBE)):
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
