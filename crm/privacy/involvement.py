"""The involvement domain's personal data (issue 18) in the subject-access export, erasure and retention.

Involvement holds special-category data (health: lived experience, access needs), so it is kept to what each
purpose needs and goes as soon as it is not needed. A person's rows are found by their email address:

- ``network_members``: their membership of the lived experience network (topics, regions, access needs,
  experience, the consent wording they agreed to). Erasure deletes the row, as leaving the network does.
- ``involvement_interests``: their expressions of interest (note, access needs, consent wording). Erasure
  anonymises them in place so an opportunity's count of interest stays right.
- ``involvement_records``: what they took part in, linked through their network membership or written under their
  name. Erasure removes the name and note; the hours and payments stay (the impact figures), nameless.
- ``consultation_recipients``: answers given from their address (a group's public address that is theirs) and
  answers signed with their name; ``involvement_opportunities`` and ``consultation_requests`` where they are the
  poster's contact or the reply address.

Retention (run weekly with the rest, ``crm.privacy.retention``): network members who never confirmed within
``UNCONFIRMED_DAYS``, or have not been involved for ``settings.retention_contact_years`` years, are removed (and the
involvement mailing withdrawn from their subscription, without a suppression: they may join again); interests in
opportunities that closed more than ``INTEREST_KEEP_DAYS`` ago are anonymised.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import Text, cast, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from crm import models as m
from crm.mailing.consent import How, log_consent
from crm.privacy.sweep import ERASED

INTEREST_KEEP_DAYS = 365  # an expression of interest is kept a year after its opportunity closed
ERASED_DOMAIN = "@erased.invalid"
INVOLVEMENT_MAILING = m.Mailing.INVOLVEMENT.value
# The email a network join sends (its confirmation link): kept with the join's consent entry, anonymised with it.
JOIN_EMAIL_KINDS = ("involvement_network_confirm",)

EXPORT_SECTIONS = {
    "involvement_network_member": "Lived experience network membership",
    "involvement_interests": "Expressions of interest in involvement opportunities",
    "involvement_records": "Records of involvement",
    "involvement_opportunities_as_contact": "Involvement opportunities they are the contact for",
    "consultation_answers": "Answers to consultation requests",
    "consultation_requests_as_contact": "Consultation requests they are the reply address for",
}


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "value") and not isinstance(value, int | float | str | bool):
        return value.value
    return value


def _mappings(session: Session, query: Any) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row._mapping.items()} for row in session.execute(query)]


def member_ids(session: Session, email: str) -> list[int]:
    return list(session.scalars(select(m.NetworkMember.id).where(m.NetworkMember.email == email)))


def held(session: Session, email: str) -> bool:
    """Whether any involvement row names this address (so a subject exists even with nothing else held)."""
    checks = [
        select(m.NetworkMember.id).where(m.NetworkMember.email == email),
        select(m.InvolvementInterest.id).where(m.InvolvementInterest.email == email),
        select(m.InvolvementOpportunity.id).where(m.InvolvementOpportunity.contact_email == email),
        select(m.ConsultationRecipient.id).where(m.ConsultationRecipient.email == email),
        select(m.ConsultationRequest.id).where(m.ConsultationRequest.reply_email == email),
    ]
    return any(session.scalar(q.limit(1)) is not None for q in checks)


def _names_linked(session: Session, table: Any, owner_column: Any, owner_id: int, name_column: Any) -> list[str]:
    return list(
        session.scalars(
            select(name_column).join(table, owner_column == owner_id).where(name_column.is_not(None)).distinct()
        )
    )


def _where(session: Session, query: Any, conditions: list[Any]) -> list[dict[str, Any]]:
    """The rows matching any condition; none when there is no condition (an unknown address or name)."""
    return _mappings(session, query.where(or_(*conditions))) if conditions else []


def export(session: Session, email: str | None, names: set[str]) -> dict[str, Any]:
    """The involvement sections of a subject-access export (every key of ``EXPORT_SECTIONS``): by the address,
    and, for records and consultation answers (which hold no address of the person), by the person's names."""
    out: dict[str, Any] = {key: [] for key in EXPORT_SECTIONS}
    named = sorted(n for n in names if n)

    def by_address(column: Any) -> list[Any]:
        return [column == email] if email else []

    nm = m.NetworkMember
    ids = member_ids(session, email) if email else []
    for member in session.scalars(select(nm).where(nm.id.in_(ids))) if ids else []:
        row = {c.key: _plain(getattr(member, c.key)) for c in nm.__table__.columns if c.key != "confirm_nonce"}
        t, r = m.network_member_topics, m.network_member_regions
        row["topics"] = list(
            session.scalars(select(m.Topic.name).join(t, t.c.topic_id == m.Topic.id).where(t.c.member_id == member.id))
        )
        row["regions"] = list(
            session.scalars(
                select(m.Region.name).join(r, r.c.region_id == m.Region.id).where(r.c.member_id == member.id)
            )
        )
        out["involvement_network_member"].append(row)

    ii, opp, rec = m.InvolvementInterest, m.InvolvementOpportunity, m.InvolvementRecord
    out["involvement_interests"] = _where(
        session,
        select(
            ii.id,
            opp.title.label("opportunity"),
            ii.name,
            ii.email,
            ii.note,
            ii.access_needs,
            ii.consent_wording,
            ii.consented_at,
            ii.created_at,
            ii.source,
            ii.status,
            ii.notified_status,
            ii.notified_at,
        )
        .join(opp, opp.id == ii.opportunity_id)
        .order_by(ii.id),
        by_address(ii.email),
    )
    out["involvement_records"] = _where(
        session,
        select(
            rec.id,
            rec.activity,
            rec.took_part_on,
            rec.person_name,
            rec.minutes,
            rec.payment_pence,
            rec.expenses_pence,
            rec.recognition,
            rec.note,
            opp.title.label("opportunity"),
        )
        .outerjoin(opp, opp.id == rec.opportunity_id)
        .order_by(rec.took_part_on, rec.id),
        ([rec.member_id.in_(ids)] if ids else []) + ([rec.person_name.in_(named)] if named else []),
    )
    out["involvement_opportunities_as_contact"] = _where(
        session,
        select(opp.id, opp.title, opp.status, opp.contact_name, opp.contact_email, opp.created_at).order_by(opp.id),
        by_address(opp.contact_email),
    )
    cr, rq = m.ConsultationRecipient, m.ConsultationRequest
    out["consultation_answers"] = _where(
        session,
        select(
            cr.id,
            rq.title.label("request"),
            cr.email,
            cr.answer,
            cr.answer_note,
            cr.answered_by,
            cr.answered_at,
            cr.sent_at,
        )
        .join(rq, rq.id == cr.request_id)
        .order_by(cr.id),
        by_address(cr.email) + ([cr.answered_by.in_(named)] if named else []),
    )
    out["consultation_requests_as_contact"] = _where(
        session,
        select(rq.id, rq.title, rq.researcher_name, rq.reply_email, rq.status).order_by(rq.id),
        by_address(rq.reply_email),
    )
    return out


def personal_names(session: Session, email: str) -> set[str]:
    """The names this address goes by in involvement rows (the erasure's sweep looks for them everywhere)."""
    queries = [
        select(m.NetworkMember.name).where(m.NetworkMember.email == email),
        select(m.InvolvementInterest.name).where(m.InvolvementInterest.email == email),
        select(m.InvolvementOpportunity.contact_name).where(m.InvolvementOpportunity.contact_email == email),
        select(m.ConsultationRecipient.answered_by).where(m.ConsultationRecipient.email == email),
        select(m.ConsultationRequest.researcher_name).where(m.ConsultationRequest.reply_email == email),
        select(m.InvolvementRecord.person_name)
        .join(m.NetworkMember, m.NetworkMember.id == m.InvolvementRecord.member_id)
        .where(m.NetworkMember.email == email),
    ]
    return {n for q in queries for n in session.scalars(q) if n and n.strip()}


def remove_members(session: Session, ids: list[int]) -> int:
    """Delete network members: their records and interests stay, without the link or the member's name."""
    if not ids:
        return 0
    rec = m.InvolvementRecord.__table__
    session.execute(update(rec).where(rec.c.member_id.in_(ids)).values(member_id=None, person_name="", note=""))
    ii = m.InvolvementInterest.__table__
    session.execute(update(ii).where(ii.c.member_id.in_(ids)).values(member_id=None))
    session.execute(delete(m.network_member_topics).where(m.network_member_topics.c.member_id.in_(ids)))
    session.execute(delete(m.network_member_regions).where(m.network_member_regions.c.member_id.in_(ids)))
    nm = m.NetworkMember.__table__
    return session.execute(delete(nm).where(nm.c.id.in_(ids))).rowcount or 0


def anonymous_interest(interest_id: int) -> dict[str, Any]:
    """An expression of interest without the person: the row (its opportunity, status, times) keeps the counts."""
    return {
        "name": "Erased",
        "email": f"erased-involvement-interest-{interest_id}{ERASED_DOMAIN}",
        "note": "",
        "access_needs": "",
        "member_id": None,
    }


def erase(session: Session, email: str | None, names: set[str], run: Any) -> None:
    """Remove the person's involvement data, found by their address and (for records and answers, which hold no
    address of the person) by their names; ``run(label, statement)`` executes and counts (the erasure's)."""
    rec, cr = m.InvolvementRecord.__table__, m.ConsultationRecipient.__table__
    if email:
        ids = member_ids(session, email)
        if ids:
            run(
                "involvement_records",
                update(rec).where(rec.c.member_id.in_(ids)).values(member_id=None, person_name="", note=""),
            )
            nm = m.NetworkMember.__table__
            run("network_members", delete(nm).where(nm.c.id.in_(ids)))
        it = m.InvolvementInterest.__table__
        for interest_id in list(session.scalars(select(it.c.id).where(it.c.email == email))):
            run(
                "involvement_interests",
                update(it).where(it.c.id == interest_id).values(**anonymous_interest(interest_id)),
            )
        ot = m.InvolvementOpportunity.__table__
        run(
            "involvement_opportunities",
            update(ot).where(ot.c.contact_email == email).values(contact_email="", contact_name=""),
        )
        rq = m.ConsultationRequest.__table__
        run(
            "consultation_requests",
            update(rq).where(rq.c.reply_email == email).values(reply_email="", researcher_name=""),
        )
    named = sorted(n for n in names if n)
    if named:
        run("involvement_records", update(rec).where(rec.c.person_name.in_(named)).values(person_name="", note=""))
    answered = ([cr.c.email == email] if email else []) + ([cr.c.answered_by.in_(named)] if named else [])
    if answered:
        run(
            "consultation_recipients",
            update(cr).where(or_(*answered)).values(email="", answered_by="", answer_note=""),
        )


# --- retention ------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class InvolvementPlan:
    members: list[Any]  # rows: id, name, email, status, last_seen
    interests: list[Any]  # rows: id, name, email, opportunity, closes_at
    joins: list[Any]  # rows: email, joined — what is left of joins never confirmed (their consent entry, email)
    member_cutoff: dt.datetime
    interest_cutoff: dt.datetime


def plan(session: Session, *, now: dt.datetime, member_cutoff: dt.datetime, unconfirmed_days: int, limit: int) -> Any:
    """Network members to remove and interests to anonymise (two statements)."""
    nm = m.NetworkMember
    pending_cutoff = now - dt.timedelta(days=unconfirmed_days)
    last_seen = func.coalesce(nm.last_involved_at, nm.confirmed_at, nm.created_at)
    members = session.execute(
        select(nm.id, nm.name, nm.email, nm.status, last_seen.label("last_seen"))
        .where(
            or_(
                (nm.status == m.NetworkMemberStatus.PENDING) & (nm.created_at < pending_cutoff),
                (nm.status == m.NetworkMemberStatus.ACTIVE)
                & (last_seen < member_cutoff)
                & (nm.updated_at < member_cutoff),
            )
        )
        .order_by(last_seen, nm.id)
        .limit(limit)
    ).all()
    interest_cutoff = now - dt.timedelta(days=INTEREST_KEEP_DAYS)
    ii, opp = m.InvolvementInterest, m.InvolvementOpportunity
    closed_when = func.coalesce(opp.closed_at, opp.closes_at)
    interests = session.execute(
        select(ii.id, ii.name, ii.email, opp.title.label("opportunity"), closed_when.label("closed"))
        .join(opp, opp.id == ii.opportunity_id)
        .where(closed_when < interest_cutoff, ~ii.email.endswith(ERASED_DOMAIN))
        .order_by(closed_when, ii.id)
        .limit(limit)
    ).all()
    return InvolvementPlan(
        members=members,
        interests=interests,
        joins=abandoned_joins(session, pending_cutoff, limit),
        member_cutoff=member_cutoff,
        interest_cutoff=interest_cutoff,
    )


def _join_entries(ce: Any) -> Any:
    """Consent entries of a network join: a subscribe to the involvement mailing logged before any subscription."""
    return (
        ce.subscription_id.is_(None)
        & (ce.action == m.ConsentAction.SUBSCRIBE)
        & cast(ce.mailings, Text).contains(f'"{INVOLVEMENT_MAILING}"')
    )


def abandoned_joins(session: Session, cutoff: dt.datetime, limit: int) -> list[Any]:
    """Addresses that joined the network before ``cutoff``, never confirmed (the network deletes such joins) and
    hold no membership or subscription now: their join's consent entry and confirmation email are still kept."""
    ce, nm, sub = m.ConsentEntry, m.NetworkMember, m.Subscription
    joined = func.max(ce.created_at)
    return list(
        session.execute(
            select(ce.email, joined.label("joined"))
            .where(
                _join_entries(ce),
                ce.email != ERASED,
                ~exists().where(nm.email == ce.email),
                ~exists().where(sub.email == ce.email),
            )
            .group_by(ce.email)
            .having(joined < cutoff)
            .order_by(joined, ce.email)
            .limit(limit)
        )
    )


def forget_joins(
    session: Session, emails: list[str], anonymous_consent: dict[str, Any], anonymous_email: dict[str, Any]
) -> int:
    """Anonymise the consent entries and confirmation emails of abandoned joins (the erasure's anonymous values:
    the entry keeps its action, mailings and time). Returns how many addresses."""
    if not emails:
        return 0
    ce, ob = m.ConsentEntry.__table__, m.OutboxMessage.__table__
    session.execute(update(ce).where(ce.c.email.in_(emails), _join_entries(ce.c)).values(**anonymous_consent))
    session.execute(
        update(ob).where(ob.c.recipient.in_(emails), ob.c.kind.in_(JOIN_EMAIL_KINDS)).values(**anonymous_email)
    )
    return len(emails)


def withdraw_mailing(session: Session, email: str, now: dt.datetime, why: str) -> None:
    """Take the involvement mailing off the address's subscription, logged in its consent log (no suppression:
    the person may join again). A subscription with nothing else left becomes unsubscribed."""
    sub = session.scalar(select(m.Subscription).where(m.Subscription.email == email))
    if sub is None or INVOLVEMENT_MAILING not in (sub.mailings or []):
        return
    remaining = [x for x in sub.mailings if x != INVOLVEMENT_MAILING]
    sub.mailings = remaining
    sub.updated_at = now
    if not remaining and sub.status != m.SubscriptionStatus.UNSUBSCRIBED:
        sub.status = m.SubscriptionStatus.UNSUBSCRIBED
        sub.unsubscribed_at = now
    how = How(mechanism="retention", actor="retention job")
    log_consent(
        session,
        sub,
        email,
        m.ConsentAction.UNSUBSCRIBE,
        how,
        mailings=[INVOLVEMENT_MAILING],
        topics=[],
        regions=[],
        detail={"why": why},
    )


def apply(session: Session, p: InvolvementPlan, now: dt.datetime) -> tuple[int, int]:
    """Remove the planned members (and their alerts) and anonymise the planned interests; returns both counts."""
    for row in p.members:
        withdraw_mailing(session, row.email, now, "not involved in the network for the retention period")
    removed = remove_members(session, [row.id for row in p.members])
    it = m.InvolvementInterest.__table__
    for row in p.interests:
        session.execute(update(it).where(it.c.id == row.id).values(**anonymous_interest(row.id)))
    session.flush()  # the subscriptions and consent entries changed through the ORM above
    return removed, len(p.interests)
