"""What a guest does with an event: open and answer their signed RSVP link, fetch its calendar file, or ask for a
place on the public page (which the fellow approves or declines). Services never commit."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.accounts.principal import Principal
from crm.events import rsvp
from crm.events.lifecycle import EventProblem
from crm.events.mail import PARTSTAT, Mailer, Recipient, host_name, itip_for, queue_invitation
from crm.tokens import Signer, TokenError

S = m.InvitationStatus


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
    if contact.email is None:
        raise rsvp.RsvpProblem("This invitation has no email address any more.")
    method = "CANCEL" if event.status == m.EventStatus.CANCELLED else "REQUEST"
    partstat = PARTSTAT.get(invitation.status, "NEEDS-ACTION")
    waiting = invitation.status == m.InvitationStatus.WAITLISTED
    return itip_for(
        mailer, event, contact.name, contact.email, method=method, partstat=partstat, tentative=waiting, now=now
    ).text


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
