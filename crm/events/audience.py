"""Choosing who to invite: filters over contacts and organisations, or a saved contact list.

Everything is set-based SQL: the preview is one statement (a GROUP BY over each matching contact's exclusion
reason) and sending is one SELECT, one multi-row INSERT of invitations, then one outbox row per new invitee.
A contact is excluded when already invited, when the address is suppressed (bounced, complained, unsubscribed
from everything) or when their subscription says they unsubscribed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, String, and_, case, cast, exists, func, literal, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.accounts.principal import Principal
from crm.events.lifecycle import EventProblem
from crm.events.mail import INLINE_LIMIT, MAILING, Mailer, Recipient, host_name, queue_calendar_emails
from crm.validation import record_id

REASON_LABELS = {
    "already-invited": "already invited",
    "bounced": "bounced",
    "complained": "marked as spam",
    "unsubscribed": "unsubscribed",
    "no-email": "no email address",
}


@dataclasses.dataclass(frozen=True, slots=True)
class AudienceFilter:
    org_kinds: tuple[str, ...] = ()
    topic_ids: tuple[int, ...] = ()
    region_ids: tuple[int, ...] = ()
    career_stages: tuple[str, ...] = ()
    past_attendance: str = ""  # "", "attended" (came to any past event), "never"
    list_id: int | None = None
    everyone: bool = False
    contact_ids: tuple[int, ...] = ()  # particular people (invited by address, or named by the API)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> AudienceFilter:
        def many(name: str) -> list[str]:
            raw = data.get(name, [])
            values = raw if isinstance(raw, list) else [raw]
            return [str(v).strip() for v in values if str(v).strip()]

        def ints(name: str) -> tuple[int, ...]:
            return tuple(sorted({i for i in map(record_id, many(name)) if i is not None}))

        kinds = {k.value for k in m.OrgKind}
        stages = {s.value for s in m.CareerStage}
        lists = ints("list_id")
        attendance = (many("past_attendance") or [""])[0]
        return cls(
            org_kinds=tuple(sorted({k for k in many("org_kind") if k in kinds})),
            topic_ids=ints("topic"),
            region_ids=ints("region"),
            career_stages=tuple(sorted({s for s in many("career_stage") if s in stages})),
            past_attendance=attendance if attendance in {"attended", "never"} else "",
            list_id=lists[0] if lists else None,
            everyone=(many("everyone") or [""])[0] in {"1", "on", "true", "yes"},
            contact_ids=ints("contact"),
        )

    @property
    def is_empty(self) -> bool:
        return not (
            self.org_kinds
            or self.topic_ids
            or self.region_ids
            or self.career_stages
            or self.past_attendance
            or self.list_id
            or self.everyone
            or self.contact_ids
        )

    def as_query(self) -> list[tuple[str, Any]]:
        pairs: list[tuple[str, Any]] = [("org_kind", k) for k in self.org_kinds]
        pairs += [("topic", t) for t in self.topic_ids] + [("region", r) for r in self.region_ids]
        pairs += [("career_stage", s) for s in self.career_stages]
        if self.past_attendance:
            pairs.append(("past_attendance", self.past_attendance))
        if self.list_id:
            pairs.append(("list_id", self.list_id))
        if self.everyone:
            pairs.append(("everyone", "1"))
        pairs += [("contact", c) for c in self.contact_ids]
        return pairs

    def describe(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v}


def _conditions(f: AudienceFilter, event_id: int) -> list[Any]:
    c = m.Contact
    aff, org = m.Affiliation, m.Organisation
    conds: list[Any] = [c.erased_at.is_(None), c.archived_at.is_(None)]
    if f.org_kinds:
        conds.append(exists().where(aff.contact_id == c.id, aff.organisation_id == org.id, org.kind.in_(f.org_kinds)))
    if f.topic_ids:
        ct, ot = m.contact_topics, m.organisation_topics
        conds.append(
            or_(
                exists().where(ct.c.contact_id == c.id, ct.c.topic_id.in_(f.topic_ids)),
                exists().where(
                    aff.contact_id == c.id, ot.c.organisation_id == aff.organisation_id, ot.c.topic_id.in_(f.topic_ids)
                ),
            )
        )
    if f.region_ids:
        cr = m.contact_regions
        conds.append(
            or_(
                exists().where(cr.c.contact_id == c.id, cr.c.region_id.in_(f.region_ids)),
                exists().where(aff.contact_id == c.id, aff.organisation_id == org.id, org.region_id.in_(f.region_ids)),
            )
        )
    if f.career_stages:
        conds.append(c.career_stage.in_(f.career_stages))
    if f.past_attendance:
        attended = exists().where(
            m.Invitation.contact_id == c.id, m.Invitation.attended.is_(True), m.Invitation.event_id != event_id
        )
        conds.append(attended if f.past_attendance == "attended" else ~attended)
    if f.list_id:
        conds.append(exists().where(m.ContactListMember.contact_id == c.id, m.ContactListMember.list_id == f.list_id))
    if f.contact_ids:
        conds.append(c.id.in_(f.contact_ids))
    return conds


def _reason_query(f: AudienceFilter, event_id: int) -> Select[Any]:
    """Each matching contact with its exclusion reason ('' = will be invited) and sector."""
    c = m.Contact
    sup = m.Suppression
    inv = m.Invitation
    reasons: list[Any] = [
        (c.email.is_(None), literal("no-email")),
        (inv.id.is_not(None), literal("already-invited")),
        (and_(sup.id.is_not(None), sup.reason.ilike("%bounce%")), literal("bounced")),
        (
            and_(sup.id.is_not(None), or_(sup.reason.ilike("%complain%"), sup.reason.ilike("%spam%"))),
            literal("complained"),
        ),
        (sup.id.is_not(None), literal("unsubscribed")),
    ]
    query = select(c.id.label("contact_id"), c.name, c.email)
    query = query.outerjoin(inv, and_(inv.event_id == event_id, inv.contact_id == c.id))
    query = query.outerjoin(sup, and_(sup.address == c.email, sup.lifted_at.is_(None)))
    subscription = getattr(m, "Subscription", None)
    if subscription is not None:
        status = m.SubscriptionStatus
        query = query.outerjoin(subscription, subscription.email == c.email)
        # A subscriber who withdrew from event news only keeps an active subscription without "event_news";
        # the consent log says they withdrew it (rather than never having chosen it).
        withdrew_event_news = and_(
            subscription.id.is_not(None),
            ~cast(subscription.mailings, String).like(f'%"{MAILING}"%'),
            exists().where(
                m.ConsentEntry.email == c.email,
                m.ConsentEntry.action == m.ConsentAction.UNSUBSCRIBE,
                cast(m.ConsentEntry.mailings, String).like(f'%"{MAILING}"%'),
            ),
        )
        reasons += [
            (subscription.status == status.BOUNCED, literal("bounced")),
            (subscription.status == status.COMPLAINED, literal("complained")),
            (subscription.status == status.UNSUBSCRIBED, literal("unsubscribed")),
            (withdrew_event_news, literal("unsubscribed")),
        ]
    reason = case(*reasons, else_=literal("")).label("reason")
    is_vcse = (
        exists()
        .where(
            m.Affiliation.contact_id == c.id,
            m.Affiliation.organisation_id == m.Organisation.id,
            m.Organisation.kind == m.OrgKind.VCSE,
        )
        .label("is_vcse")
    )
    return query.add_columns(reason, is_vcse).where(*_conditions(f, event_id))


PREVIEW_NAMES = 200  # the preview lists this many people by name (those to be invited first)


@dataclasses.dataclass(frozen=True, slots=True)
class Person:
    name: str
    email: str
    is_vcse: bool
    reason: str  # '' = will be invited, else why not (REASON_LABELS)

    @property
    def outcome(self) -> str:
        return "Will be invited" if not self.reason else f"Not invited: {REASON_LABELS.get(self.reason, self.reason)}"


@dataclasses.dataclass(frozen=True, slots=True)
class Preview:
    matched: int
    to_invite: int
    excluded: dict[str, int]
    people: tuple[Person, ...] = ()  # the first PREVIEW_NAMES matched, those to be invited first, by name

    @property
    def excluded_total(self) -> int:
        return sum(self.excluded.values())

    def sentence(self) -> str:
        if self.matched == 0:
            return "Nobody matches these filters, so nobody would be invited. Widen the filters or choose a list."
        people = "person" if self.to_invite == 1 else "people"
        text = f"{self.to_invite} {people} will be invited"
        if self.excluded_total:
            parts = ", ".join(
                f"{n} {REASON_LABELS.get(r, r)}" for r, n in sorted(self.excluded.items(), key=lambda i: -i[1])
            )
            text += f"; {self.excluded_total} excluded: {parts}"
        return text + "."


def preview(session: Session, event: m.Event, f: AudienceFilter) -> Preview:
    """Two statements, whatever the audience size: the counts, and the first ``PREVIEW_NAMES`` people by name, so
    every count that leads to sending can be expanded to the names behind it."""
    sub = _reason_query(f, event.id).subquery()
    rows = session.execute(select(sub.c.reason, func.count()).group_by(sub.c.reason)).all()
    counts = {reason: n for reason, n in rows}
    to_invite = counts.pop("", 0)
    people = tuple(
        Person(name=r.name or "", email=r.email or "", is_vcse=bool(r.is_vcse), reason=r.reason)
        for r in session.execute(
            select(sub.c.name, sub.c.email, sub.c.is_vcse, sub.c.reason)
            .order_by(sub.c.reason != "", sub.c.name, sub.c.contact_id)
            .limit(PREVIEW_NAMES)
        )
    )
    return Preview(matched=to_invite + sum(counts.values()), to_invite=to_invite, excluded=counts, people=people)


@dataclasses.dataclass(frozen=True, slots=True)
class SendResult:
    invited: int
    preview: Preview
    deferred: int = 0  # invitations whose email the worker queues (large audiences)


def _insert_invitations(session: Session) -> Any:
    table = m.Invitation.__table__
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=["event_id", "contact_id"])
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=["event_id", "contact_id"])


def send(
    session: Session, mailer: Mailer, actor: Principal | None, event: m.Event, f: AudienceFilter, now: dt.datetime
) -> SendResult:
    """Invite everyone in the audience not yet invited (and not excluded); queue one invitation email each."""
    if event.status != m.EventStatus.PUBLISHED:
        raise EventProblem("Publish the event before sending invitations.")
    if now >= event.starts_at:
        raise EventProblem("This event has already started; invitations can no longer be sent.")
    if f.is_empty:
        raise EventProblem("Choose at least one filter or a list (or tick 'everyone in the directory').")
    before = preview(session, event, f)
    sub = _reason_query(f, event.id).subquery()
    people = list(session.execute(select(sub).where(sub.c.reason == "").order_by(sub.c.contact_id)))
    if not people:
        return SendResult(0, before)
    rows = [
        {
            "event_id": event.id,
            "contact_id": p.contact_id,
            "status": m.InvitationStatus.INVITED,
            "is_vcse": bool(p.is_vcse),
            "note": "",
            "source": "audience",
            "invited_at": now,
            "created_at": now,
        }
        for p in people
    ]
    inserted = session.execute(
        _insert_invitations(session).returning(m.Invitation.__table__.c.id, m.Invitation.__table__.c.contact_id),
        rows,
    ).all()
    by_contact = {p.contact_id: p for p in people}
    host = host_name(session, event)
    invitees = [
        Recipient(
            invitation_id,
            contact_id,
            by_contact[contact_id].name,
            by_contact[contact_id].email,
            m.InvitationStatus.INVITED,
        )
        for invitation_id, contact_id in inserted[:INLINE_LIMIT]
    ]
    queue_calendar_emails(session, mailer, event, invitees, "event_invitation", host_name=host, now=now)
    audit.record(
        session,
        actor,
        "sent invitations",
        "event",
        event.id,
        summary=f"{len(inserted)} invited",
        changes={"audience": [None, f.describe()]},
    )
    session.flush()
    return SendResult(len(inserted), before, deferred=max(0, len(inserted) - INLINE_LIMIT))
