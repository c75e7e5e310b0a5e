"""Demo events (invented): two upcoming events with answers (one nearly full, with a waitlist), a past event
with attendance recorded, a cancelled one and a draft, plus a saved contact list. Runs after the directory demo."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.events import lifecycle, rsvp, sending
from crm.events.mail import Mailer, Recipient, queue_invitation
from crm.mailing.render import EmailRenderer
from crm.settings import Settings
from crm.timefmt import LONDON
from crm.tokens import Signer

S = m.InvitationStatus


def _at(days: int, hour: int, minute: int = 0) -> dt.datetime:
    day = (dt.datetime.now(LONDON) + dt.timedelta(days=days)).date()
    return dt.datetime.combine(day, dt.time(hour, minute), LONDON).astimezone(dt.UTC)


def seed(session: Session, settings: Settings) -> None:
    if session.scalar(select(m.Event.id).limit(1)) is not None:
        return
    rng = random.Random(7)
    now = dt.datetime.now(dt.UTC)
    mailer = Mailer(EmailRenderer(settings), Signer(settings), settings)
    people = list(
        session.execute(
            select(m.Contact.id, m.Contact.name, m.Contact.email)
            .where(m.Contact.email.is_not(None), m.Contact.erased_at.is_(None))
            .order_by(m.Contact.id)
            .limit(80)
        )
    )
    vcse_ids = set(
        session.scalars(
            select(m.Affiliation.contact_id)
            .join(m.Organisation, m.Organisation.id == m.Affiliation.organisation_id)
            .where(m.Organisation.kind == m.OrgKind.VCSE)
        )
    )
    funder = session.scalar(select(m.Organisation).where(m.Organisation.kind == m.OrgKind.FUNDER).limit(1))
    academic = session.scalar(select(m.Organisation).where(m.Organisation.kind == m.OrgKind.ACADEMIC).limit(1))
    call_id = None
    funding = getattr(m, "FundingCall", None)
    if funding is not None:
        call_id = session.scalar(select(funding.id).order_by(funding.id).limit(1))

    def make(title: str, days: int, hours: int = 2, publish: bool = True, **values: object) -> m.Event:
        start = _at(days, 14)
        event = lifecycle.create_event(
            session,
            None,
            settings.base_url,
            {
                "title": title,
                "description": values.pop("description", ""),
                "starts_at": start,
                "ends_at": start + dt.timedelta(hours=hours),
                "venue": values.pop("venue", "The Meeting Rooms, 12 Example Square, Leeds LS1 1AA"),
                "reminder_offsets_hours": [168, 24],
                **values,
            },
        )
        if publish:
            lifecycle.publish_event(session, None, event, now)
        return event

    def invite(event: m.Event, group: list[object], answers: list[str]) -> None:
        for person, answer in zip(group, answers, strict=False):
            inv = m.Invitation(
                event_id=event.id,
                contact_id=person.id,  # type: ignore[attr-defined]
                is_vcse=person.id in vcse_ids,  # type: ignore[attr-defined]
                invited_at=now - dt.timedelta(days=3),
                created_at=now - dt.timedelta(days=3),
            )
            session.add(inv)
            session.flush()
            if answer in rsvp.ANSWERS:
                rsvp.apply_answer(session, mailer, event, inv, answer, None, now, source="demo", check_window=False)

    launch = make(
        "Funding call launch: mental health research partnerships",
        21,
        description=(
            "The new call for community-academic partnerships in mental health research has opened. "
            "Meet potential partners, hear from the funder and from last year's teams.\n\n"
            "Lunch is provided. The venue is step-free."
        ),
        host_organisation_id=funder.id if funder else None,
        funding_call_id=call_id,
        capacity=40,
        vcse_min_percent=40,
        allow_requests=True,
        online_url="https://meet.example.org/roundtable-launch",
        rsvp_deadline=_at(18, 17),
    )
    invite(launch, people[:24], [rng.choice(["yes", "yes", "maybe", "no", ""]) for _ in range(24)])
    # The first few invitations also have their email queued, so the outbox shows a real invitation.
    for person in people[:3]:
        inv = session.scalar(
            select(m.Invitation).where(m.Invitation.event_id == launch.id, m.Invitation.contact_id == person.id)
        )
        if inv is not None:
            queue_invitation(
                session,
                mailer,
                launch,
                Recipient(inv.id, person.id, person.name, person.email, inv.status),
                funder.name if funder else "",
                now=now,
            )

    workshop = make(
        "Co-production workshop: involving people with lived experience",
        10,
        hours=3,
        description="A small, practical workshop on paying and supporting lived-experience partners in research.",
        host_organisation_id=academic.id if academic else None,
        capacity=8,
        offer_hold_hours=48,
    )
    invite(workshop, people[24:36], ["yes"] * 11 + ["maybe"])

    past = make(
        "Winter roundtable: evaluating peer support",
        -45,
        description="Researchers and peer-support charities compared evaluation approaches.",
        capacity=25,
    )
    invite(past, people[36:52], ["yes"] * 12 + ["no"] * 4)
    for inv in session.scalars(
        select(m.Invitation).where(m.Invitation.event_id == past.id, m.Invitation.status == S.YES)
    ):
        inv.attended = rng.random() < 0.8

    cancelled = make(
        "Summer social for partnership teams",
        35,
        description="An informal evening for teams who met at earlier events.",
        capacity=60,
    )
    invite(cancelled, people[52:60], ["yes", "yes", "maybe", "", "", "no", "yes", ""])
    lifecycle.cancel_event(session, mailer, None, cancelled, now)

    make(
        "Draft: autumn funding briefing (online)",
        70,
        publish=False,
        venue="",
        online_url="https://meet.example.org/autumn",
    )

    # Invitation emails for the invitations above (what the worker's queue_pending would do).
    sending.queue_pending(session, mailer, now, batch=1000)

    lst = m.ContactList(name="Steering group", description="People who advise the roundtable.")
    session.add(lst)
    session.flush()
    for person in people[60:70]:
        session.add(m.ContactListMember(list_id=lst.id, contact_id=person.id))
    session.flush()
