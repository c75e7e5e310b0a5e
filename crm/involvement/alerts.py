"""Telling network members about an opportunity: the alert when it is published, the fellow's invitation, and the
one-click "I'm interested" both carry.

Alerts (``send_alerts``, run by ``crm.involvement.network_jobs``): an opportunity that is published, still open and
not yet alerted (``alerted_at IS NULL``) is claimed with one conditional UPDATE, and in the same transaction each
ACTIVE member whose fit passes (``crm.involvement.fit``) AND whose subscription is active with the involvement
mailing gets one bulk email through the outbox, with the one-click List-Unsubscribe of the "involvement" stream
(``enqueue_bulk_many``). Exactly once: the claim and the emails commit together or not at all (a crash leaves the
opportunity unclaimed, so the next run sends it), a second worker's claim finds nothing, and each email's
idempotency key ``involvement:alert:<opportunity>:<member>`` could not be queued twice anyway. The dispatcher
re-checks the subscription when it sends, so unsubscribing in between still stops the email.

Invitations (``invite``): the fellow picks members on the matching page; each gets a personal email (transactional:
membership consent covers being invited) with a signed "yes, I'm interested" link; key
``involvement:invite:<opportunity>:<member>``, so inviting twice sends once.

Either link leads to a page with the interest consent wording and one button; pressing it records the interest
through ``crm.involvement.interest.record_interest`` with the member's id (source "interest" from an alert, "invited"
from an invitation).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm import models as m
from crm.involvement import fit as fitting
from crm.involvement import network
from crm.involvement.interest import record_interest
from crm.involvement.rules import INTEREST_CONSENT_WORDING, is_open, payment_summary
from crm.mailing.outbox import BulkEmail, enqueue, enqueue_bulk_many
from crm.mailing.render import EmailRenderer
from crm.mailing.subscriptions import mailing_filter
from crm.timefmt import format_date
from crm.tokens import Signer, TokenError

O = m.InvolvementOpportunity  # noqa: E741 - short alias for column expressions
NM = m.NetworkMember
WHY = (
    "You get this because you joined Roundtable's lived experience network and asked for emails about involvement "
    "opportunities that fit what you told us."
)
SOURCES = {"involvement-interest": "interest", "involvement-invite": "invited"}


@dataclasses.dataclass(frozen=True, slots=True)
class Shown:
    """An opportunity as the alert and invitation emails show it (formatted once)."""

    title: str
    kind: str
    summary: str
    payment: str
    place: str
    closing: str
    url: str


def shown(opp: m.InvolvementOpportunity, facts: fitting.OpportunityFacts, base_url: str) -> Shown:
    place = " and ".join(p for p in (facts.region_name, "online" if opp.online else "") if p) or "To be agreed"
    return Shown(
        title=opp.title,
        kind=opp.kind.label,
        summary=opp.summary,
        payment=payment_summary(opp),
        place=place[:1].upper() + place[1:],
        closing=format_date(opp.closing_date),
        url=f"{base_url.rstrip('/')}/involvement/{opp.slug}",
    )


def interest_url(signer: Signer, base_url: str, purpose: str, opp_id: int, member: Any) -> str:
    """The signed "yes, I'm interested" link of an alert (``involvement-interest``) or invitation
    (``involvement-invite``)."""
    token = signer.sign(purpose, {"o": opp_id, "m": member.id, "e": member.email})
    path = "interested" if purpose == "involvement-interest" else "invited"
    return f"{base_url.rstrip('/')}/involvement/network/{path}/{token}"


# --- alerts -------------------------------------------------------------------------------------------------------


def due(session: Session, now: dt.datetime) -> list[int]:
    """Opportunities published, still open and not yet alerted, oldest first."""
    return list(
        session.scalars(
            select(O.id)
            .where(O.status == m.OpportunityStatus.PUBLISHED, O.alerted_at.is_(None), O.closes_at > now)
            .order_by(O.id)
        )
    )


def recipients(session: Session, opp_id: int) -> list[Any]:
    """ACTIVE members whose subscription is active with the involvement mailing and who have not already said they
    are interested: (id, name, email, subscription id)."""
    S = m.Subscription
    already = select(m.InvolvementInterest.email).where(m.InvolvementInterest.opportunity_id == opp_id)
    return list(
        session.execute(
            select(NM.id, NM.name, NM.email, S.id.label("subscription_id"))
            .join(S, S.email == NM.email)
            .where(
                NM.status == m.NetworkMemberStatus.ACTIVE,
                S.status == m.SubscriptionStatus.ACTIVE,
                mailing_filter(network.MAILING),
                NM.email.not_in(already),
            )
            .order_by(NM.id)
        )
    )


def alert(session: Session, renderer: EmailRenderer, signer: Signer, opp_id: int, now: dt.datetime) -> int | None:
    """Claim one opportunity and queue its alerts in the caller's transaction. None when another run had claimed
    it (or it is no longer open); else how many emails were queued (0 when nobody fits)."""
    claimed = session.execute(
        update(O)
        .where(O.id == opp_id, O.alerted_at.is_(None), O.status == m.OpportunityStatus.PUBLISHED, O.closes_at > now)
        .values(alerted_at=now)
    )
    if claimed.rowcount != 1:
        return None
    opp = session.get(O, opp_id)
    assert opp is not None
    base = renderer.settings.base_url
    facts = fitting.opportunity_facts(session, opp)
    people = {r.id: r for r in recipients(session, opp_id)}
    fits = fitting.rank(fitting.member_facts(session, list(people)), facts)
    item = dataclasses.asdict(shown(opp, facts, base))
    emails = [
        BulkEmail(
            key=f"involvement:alert:{opp_id}:{r.member.id}",
            to=people[r.member.id].email,
            to_name=people[r.member.id].name,
            subscription_id=people[r.member.id].subscription_id,
            context={
                "name": people[r.member.id].name,
                "o": item,
                "interest_url": interest_url(signer, base, "involvement-interest", opp_id, people[r.member.id]),
                "manage_url": network.manage_url(signer, base, people[r.member.id]),
                "leave_url": network.leave_url(signer, base, people[r.member.id]),
            },
        )
        for r in fits
    ]
    inserted = enqueue_bulk_many(
        session,
        renderer,
        signer,
        emails,
        kind="involvement_alert",
        template="involvement/alert",
        why=WHY,
        mailing=network.MAILING,
    )
    return len(inserted)


# --- invitations ---------------------------------------------------------------------------------------------------


def invited(session: Session, opp_id: int) -> dict[int, dt.datetime]:
    """Member id -> when the fellow invited them to this opportunity (from the outbox keys)."""
    prefix = f"involvement:invite:{opp_id}:"
    rows = session.execute(
        select(m.OutboxMessage.idempotency_key, m.OutboxMessage.created_at).where(
            m.OutboxMessage.idempotency_key.startswith(prefix, autoescape=True)
        )
    )
    return {int(key[len(prefix) :]): created for key, created in rows if key[len(prefix) :].isdigit()}


def invite(
    session: Session,
    renderer: EmailRenderer,
    signer: Signer,
    opp: m.InvolvementOpportunity,
    member_ids: Sequence[int],
    *,
    note: str = "",
    now: dt.datetime | None = None,
) -> int:
    """Email each chosen ACTIVE member a personal invitation; returns how many were newly queued (an earlier
    invitation to the same member is not sent again). Refused (``ValueError``) when the opportunity is not open."""
    now = now or dt.datetime.now(dt.UTC)
    if not is_open(opp.status, opp.closes_at, now):
        raise ValueError("This opportunity is not open, so nobody can be invited to it.")
    base = renderer.settings.base_url
    facts = fitting.opportunity_facts(session, opp)
    item = dataclasses.asdict(shown(opp, facts, base))
    members = session.scalars(
        select(NM).where(NM.id.in_(sorted(set(member_ids))), NM.status == m.NetworkMemberStatus.ACTIVE)
    )
    sent = 0
    for member in members:
        row = enqueue(
            session,
            renderer,
            key=f"involvement:invite:{opp.id}:{member.id}",
            kind="involvement_invitation",
            template="involvement/invitation",
            to=member.email,
            to_name=member.name,
            context={
                "name": member.name,
                "o": item,
                "note": note,
                "interest_url": interest_url(signer, base, "involvement-invite", opp.id, member),
                "manage_url": network.manage_url(signer, base, member),
                "leave_url": network.leave_url(signer, base, member),
            },
        )
        sent += row is not None
    return sent


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def already_interested(session: Session, opp_id: int, email: str) -> bool:
    """Whether this address has already expressed interest in the opportunity."""
    query = select(m.InvolvementInterest.id).where(
        m.InvolvementInterest.opportunity_id == opp_id, m.InvolvementInterest.email == email.strip().lower()
    )
    return session.scalar(query.limit(1)) is not None


# --- "yes, I'm interested" ------------------------------------------------------------------------------------------


def from_token(
    session: Session, signer: Signer, purpose: str, token: str
) -> tuple[m.NetworkMember, m.InvolvementOpportunity]:
    """The member and opportunity a "yes, I'm interested" link names; ``TokenError`` with a plain message when the
    link was changed, the member has left, or the opportunity has gone."""
    data = signer.verify(purpose, token)
    if not isinstance(data, dict):
        raise TokenError("This link is not valid. It may have been changed or cut short.")
    member = session.get(NM, data.get("m"))
    if member is None or member.email != data.get("e") or member.status != m.NetworkMemberStatus.ACTIVE:
        raise TokenError(network.GONE)
    opp = session.get(O, data.get("o"))
    if opp is None or opp.status in {m.OpportunityStatus.DRAFT, m.OpportunityStatus.REJECTED}:
        raise TokenError("This opportunity is no longer listed.")
    return member, opp


def say_interested(
    session: Session,
    renderer: EmailRenderer,
    signer: Signer,
    member: m.NetworkMember,
    opp: m.InvolvementOpportunity,
    *,
    purpose: str,
    note: str,
    access_needs: str,
    now: dt.datetime | None = None,
) -> tuple[m.InvolvementInterest, bool]:
    """Record the member's interest through the one writer (``record_interest``: the poster is told, the member gets
    a receipt) with the interest consent wording they saw; a second click keeps the first and says so (``created``
    False). Raises ``OpportunityClosed`` when it has closed."""
    return record_interest(
        session,
        opp,
        name=member.name,
        email=member.email,
        note=note,
        access_needs=access_needs,
        consent_wording=INTEREST_CONSENT_WORDING,
        member_id=member.id,
        source=SOURCES[purpose],
        renderer=renderer,
        signer=signer,
        now=now or dt.datetime.now(dt.UTC),
    )
