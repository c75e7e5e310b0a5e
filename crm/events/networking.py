"""Who's going, and introductions after an event (issue 20.5).

Both are opt-in, chosen by the invitee on their RSVP page and off by default: "show my name and organisation to
other attendees" (``Invitation.share_with_attendees``) and "introduce me to people with complementary interests"
(``wants_introductions``, with what they are looking for). Nobody's name reaches another attendee, and nobody is
introduced, without their own tick; an introduction also needs the other person's.

After the event the product proposes pairs: a VCSE attendee with an academic one, scored by the topics they share
and by what each said they were looking for meeting the other's topics. The fellow approves or dismisses each
pair; only approved pairs are emailed, one email to each person naming the other, and only while both still opt in.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from crm import audit
from crm import models as m
from crm.accounts.principal import Principal
from crm.db import insert_ignore
from crm.events.attendees import primary_organisation
from crm.events.lifecycle import EventProblem
from crm.events.mail import Mailer, when_text
from crm.mailing.outbox import enqueue

S = m.InvitationStatus
I = m.IntroductionStatus  # noqa: E741
LOOKING_FOR_MAX = 500
PER_PERSON = 3  # proposals per person: enough choice, not a flood of emails
STOPWORDS = frozenset(
    [
        "about",
        "after",
        "also",
        "and",
        "any",
        "are",
        "for",
        "from",
        "have",
        "into",
        "looking",
        "more",
        "other",
        "our",
        "people",
        "some",
        "that",
        "the",
        "their",
        "them",
        "they",
        "this",
        "those",
        "want",
        "with",
        "work",
        "working",
        "would",
        "your",
    ]
)


def save_choices(invitation: m.Invitation, *, share: bool, introduce: bool, looking_for: str) -> None:
    """The invitee's own choices from the RSVP form (what they are looking for only matters with introductions)."""
    invitation.share_with_attendees = share
    invitation.wants_introductions = introduce
    invitation.looking_for = " ".join((looking_for or "").split())[:LOOKING_FOR_MAX]


def coming() -> Any:
    """Coming: said yes, and not recorded as absent on the day."""
    return and_(m.Invitation.status == S.YES, or_(m.Invitation.attended.is_(None), m.Invitation.attended.is_(True)))


def whos_going(session: Session, event_id: int, viewer: m.Invitation) -> list[Any] | None:
    """The other attendees who chose to be shown (name, organisation), for an attendee with a place; None for
    anyone else (people without a place never see the list). One statement."""
    if viewer.status != S.YES:
        return None
    rows = session.execute(
        select(m.Contact.name, primary_organisation().label("organisation"))
        .select_from(m.Invitation)
        .join(m.Contact, m.Contact.id == m.Invitation.contact_id)
        .where(
            m.Invitation.event_id == event_id,
            m.Invitation.id != viewer.id,
            m.Invitation.share_with_attendees.is_(True),
            coming(),
        )
        .order_by(func.lower(m.Contact.name), m.Invitation.id)
    )
    return list(rows)


def shown_to_attendees(session: Session, event_id: int) -> list[Any]:
    """For the fellow: everyone coming with their choices (name, organisation, shown, introductions, looking for),
    those who opted in to anything first. One statement."""
    inv = m.Invitation
    return list(
        session.execute(
            select(
                inv.id,
                m.Contact.name,
                primary_organisation().label("organisation"),
                inv.is_vcse,
                inv.share_with_attendees,
                inv.wants_introductions,
                inv.looking_for,
            )
            .join(m.Contact, m.Contact.id == inv.contact_id)
            .where(inv.event_id == event_id, coming())
            .order_by((inv.share_with_attendees | inv.wants_introductions).desc(), func.lower(m.Contact.name), inv.id)
        )
    )


def opt_in_counts(session: Session, event_id: int) -> dict[str, int]:
    """Among people coming: how many share their name, how many want introductions (one statement)."""
    inv = m.Invitation
    share, introduce, total = session.execute(
        select(
            func.count().filter(inv.share_with_attendees.is_(True)),
            func.count().filter(inv.wants_introductions.is_(True)),
            func.count(),
        ).where(inv.event_id == event_id, coming())
    ).one()
    return {"share": share, "introduce": introduce, "coming": total}


@dataclasses.dataclass(frozen=True, slots=True)
class Person:
    invitation_id: int
    name: str
    organisation: str
    is_vcse: bool
    is_academic: bool
    looking_for: str
    topics: frozenset[str]  # topic names of the person and of their organisations


def _people(session: Session, event_id: int) -> list[Person]:
    """Everyone coming who asked to be introduced, with the topics of their record and organisations: three
    statements whatever the number of attendees."""
    inv, aff, org = m.Invitation, m.Affiliation, m.Organisation
    rows = session.execute(
        select(inv.id, inv.contact_id, inv.is_vcse, inv.looking_for, m.Contact.name)
        .join(m.Contact, m.Contact.id == inv.contact_id)
        .where(inv.event_id == event_id, inv.wants_introductions.is_(True), coming(), m.Contact.email.isnot(None))
        .order_by(inv.id)
    ).all()
    contact_ids = [r.contact_id for r in rows]
    orgs: dict[int, list[tuple[str, str]]] = defaultdict(list)
    topics: dict[int, set[str]] = defaultdict(set)
    if contact_ids:
        for contact_id, name, kind in session.execute(
            select(aff.contact_id, org.name, org.kind)
            .join(org, org.id == aff.organisation_id)
            .where(aff.contact_id.in_(contact_ids))
            .order_by(aff.is_primary.desc(), aff.id)
        ):
            orgs[contact_id].append((name, str(kind.value if hasattr(kind, "value") else kind)))
        org_topics = (
            select(aff.contact_id.label("contact_id"), m.Topic.name.label("topic"))
            .join(m.organisation_topics, m.organisation_topics.c.organisation_id == aff.organisation_id)
            .join(m.Topic, m.Topic.id == m.organisation_topics.c.topic_id)
            .where(aff.contact_id.in_(contact_ids))
        )
        own_topics = (
            select(m.contact_topics.c.contact_id.label("contact_id"), m.Topic.name.label("topic"))
            .join(m.Topic, m.Topic.id == m.contact_topics.c.topic_id)
            .where(m.contact_topics.c.contact_id.in_(contact_ids))
        )
        for contact_id, topic in session.execute(org_topics.union(own_topics)):
            topics[contact_id].add(topic)
    return [
        Person(
            invitation_id=r.id,
            name=r.name,
            organisation=orgs[r.contact_id][0][0] if orgs[r.contact_id] else "",
            is_vcse=r.is_vcse or any(kind == m.OrgKind.VCSE.value for _n, kind in orgs[r.contact_id]),
            is_academic=any(kind == m.OrgKind.ACADEMIC.value for _n, kind in orgs[r.contact_id]),
            looking_for=r.looking_for,
            topics=frozenset(topics[r.contact_id]),
        )
        for r in rows
    ]


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 4 and w not in STOPWORDS}


def _meets(seeker: Person, other: Person) -> list[str]:
    """The other person's topics that what the seeker is looking for names (a word of 4+ letters in common)."""
    wanted = _words(seeker.looking_for)
    return sorted(t for t in other.topics if wanted & _words(t)) if wanted else []


def score(a: Person, b: Person) -> tuple[int, list[str]]:
    """How well two people fit, and why in plain words: 2 for each shared topic, 3 for each direction in which
    what one is looking for meets the other's work."""
    points = 0
    reasons: list[str] = []
    shared = sorted(a.topics & b.topics)
    if shared:
        points += 2 * len(shared)
        reasons.append("Both work on " + ", ".join(shared[:5]))
    for seeker, other in ((a, b), (b, a)):
        met = _meets(seeker, other)
        if met:
            points += 3
            reasons.append(
                f"{seeker.name} is looking for “{seeker.looking_for}”; {other.name}'s work covers {', '.join(met[:3])}"
            )
    return points, reasons


def pairs_for(people: Iterable[Person]) -> list[tuple[Person, Person, int, list[str]]]:
    """The proposals among ``people``: a VCSE person with an academic one, best first, each person in at most
    ``PER_PERSON`` pairs, only pairs with something in common."""
    everyone = list(people)
    vcse = [p for p in everyone if p.is_vcse]
    academics = [p for p in everyone if p.is_academic and not p.is_vcse]
    scored = []
    for v in vcse:
        for a in academics:
            points, reasons = score(v, a)
            if points > 0:
                scored.append((v, a, points, reasons))
    scored.sort(key=lambda x: (-x[2], x[0].invitation_id, x[1].invitation_id))
    used: dict[int, int] = defaultdict(int)
    chosen = []
    for v, a, points, reasons in scored:
        if used[v.invitation_id] < PER_PERSON and used[a.invitation_id] < PER_PERSON:
            used[v.invitation_id] += 1
            used[a.invitation_id] += 1
            chosen.append((v, a, points, reasons))
    return chosen


def propose(session: Session, actor: Principal | None, event: m.Event, now: dt.datetime) -> int:
    """Add the proposals for an event that has ended (a pair already proposed, approved, dismissed or sent is
    never proposed again); how many are new."""
    if now < event.ends_at:
        raise EventProblem("Introductions are proposed after the event has ended.")
    pairs = pairs_for(_people(session, event.id))
    if not pairs:
        return 0
    table = m.Introduction.__table__
    statement = insert_ignore(
        session.get_bind().dialect.name, table, ["event_id", "first_invitation_id", "second_invitation_id"]
    )
    rows = [
        {
            "event_id": event.id,
            "first_invitation_id": v.invitation_id,
            "second_invitation_id": a.invitation_id,
            "score": points,
            "reasons": reasons,
            "status": I.PROPOSED,
            "decided_by": "",
            "created_at": now,
        }
        for v, a, points, reasons in pairs
    ]
    added = len(session.execute(statement.returning(table.c.id), rows).all())
    if added:
        audit.record(
            session, actor, "proposed introductions", "event", event.id, summary=f"{added} introductions proposed"
        )
    return added


def introductions(session: Session, event_id: int) -> list[Any]:
    """The event's proposals with both people's names and organisations, best first (one statement)."""
    first_inv, second_inv = aliased(m.Invitation), aliased(m.Invitation)
    first, second = aliased(m.Contact), aliased(m.Contact)
    intro = m.Introduction
    return list(
        session.execute(
            select(
                intro.id,
                intro.status,
                intro.score,
                intro.reasons,
                intro.decided_by,
                intro.sent_at,
                first.name.label("first_name"),
                primary_organisation(first_inv).label("first_organisation"),
                second.name.label("second_name"),
                primary_organisation(second_inv).label("second_organisation"),
            )
            .join(first_inv, first_inv.id == intro.first_invitation_id)
            .join(second_inv, second_inv.id == intro.second_invitation_id)
            .join(first, first.id == first_inv.contact_id)
            .join(second, second.id == second_inv.contact_id)
            .where(intro.event_id == event_id)
            .order_by(intro.score.desc(), intro.id)
        )
    )


def decide(
    session: Session, actor: Principal | None, event: m.Event, intro_id: int, *, approve: bool, now: dt.datetime
) -> m.Introduction:
    """Approve or dismiss a proposal (either may be changed until it is sent)."""
    intro = session.get(m.Introduction, intro_id)
    if intro is None or intro.event_id != event.id:
        raise EventProblem("That introduction is not part of this event.")
    if intro.status == I.SENT:
        raise EventProblem("That introduction has been sent, so it can no longer be changed.")
    before = intro.status
    intro.status = I.APPROVED if approve else I.DISMISSED
    intro.decided_by = actor.email if actor else ""
    intro.decided_at = now
    audit.record(
        session,
        actor,
        "approved introduction" if approve else "dismissed introduction",
        "event",
        event.id,
        summary=f"Introduction {intro.id} {intro.status.value}",
        changes={"status": [before.value, intro.status.value]},
    )
    return intro


def approved_count(session: Session, event_id: int) -> int:
    return int(
        session.scalar(
            select(func.count()).where(m.Introduction.event_id == event_id, m.Introduction.status == I.APPROVED)
        )
        or 0
    )


def send_approved(session: Session, mailer: Mailer, actor: Principal | None, event: m.Event, now: dt.datetime) -> int:
    """Email every approved pair (one email to each person, naming the other, replies going to the other) and
    mark it sent; a pair where either person has since withdrawn their opt-in or lost their address is dismissed
    instead. Keyed per introduction and person, so pressing send twice sends nothing twice. How many pairs went."""
    approved = list(
        session.scalars(
            select(m.Introduction).where(m.Introduction.event_id == event.id, m.Introduction.status == I.APPROVED)
        )
    )
    if not approved:
        return 0
    invitation_ids = {i.first_invitation_id for i in approved} | {i.second_invitation_id for i in approved}
    people = {
        r.id: r
        for r in session.execute(
            select(
                m.Invitation.id,
                m.Invitation.wants_introductions,
                m.Invitation.looking_for,
                m.Contact.id.label("contact_id"),
                m.Contact.name,
                m.Contact.email,
                m.Contact.job_title,
                primary_organisation().label("organisation"),
            )
            .join(m.Contact, m.Contact.id == m.Invitation.contact_id)
            .where(m.Invitation.id.in_(invitation_ids))
        )
    }
    sent = 0
    for intro in approved:
        a, b = people.get(intro.first_invitation_id), people.get(intro.second_invitation_id)
        if a is None or b is None or not (a.wants_introductions and b.wants_introductions and a.email and b.email):
            intro.status = I.DISMISSED
            intro.decided_at = now
            continue
        for me, other in ((a, b), (b, a)):
            enqueue(
                session,
                mailer.renderer,
                key=f"introduction:{intro.id}:{me.contact_id}",
                kind="event_introduction",
                to=me.email,
                to_name=me.name,
                contact_id=me.contact_id,
                headers={"Reply-To": other.email},
                context={
                    "name": me.name,
                    "event_title": event.title,
                    "event_when": when_text(event),
                    "other_name": other.name,
                    "other_role": ", ".join(x for x in (other.job_title, other.organisation or "") if x),
                    "other_email": other.email,
                    "other_looking_for": other.looking_for,
                    "reasons": list(intro.reasons or []),
                    "postal_address": mailer.settings.mail_postal_address,
                },
            )
        intro.status = I.SENT
        intro.sent_at = now
        sent += 1
    if sent:
        audit.record(session, actor, "sent introductions", "event", event.id, summary=f"{sent} introductions emailed")
    return sent
