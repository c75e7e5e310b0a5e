"""Retention: what we stop keeping, listed first (dry run), then anonymised.

1. Unconfirmed subscriptions (status pending) older than ``UNCONFIRMED_DAYS`` (30): the person never confirmed, so
   we hold no consent. If nothing else is held for the address it is erased completely (without a suppression:
   they may subscribe again); otherwise only the subscription, its consent log and its emails are anonymised.
2. Contacts with no consent, no activity and no affiliation for ``settings.retention_contact_years`` years
   (``CRM_RETENTION_CONTACT_YEARS``, default 3): not changed since the cut-off, no organisation, no live
   subscription (pending/active/paused) and no consent entry since the cut-off, no invitation or RSVP since the
   cut-off, no membership of a partnership active since the cut-off, no interest registration since the
   cut-off. They are erased (no suppression).
3. Involvement (``crm.privacy.involvement``): lived experience network members who never confirmed within
   ``UNCONFIRMED_DAYS``, or were not involved for ``settings.retention_contact_years`` years, are removed (the
   involvement mailing withdrawn, no suppression); expressions of interest in opportunities closed more than
   ``INTEREST_KEEP_DAYS`` ago are anonymised; what is left of network joins never confirmed (the join's consent
   entry and confirmation email, once the network has deleted the join) is anonymised after ``UNCONFIRMED_DAYS``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.orm import Session

from crm import models as m
from crm.privacy import involvement
from crm.privacy.erasure import ANONYMOUS_CONSENT, ANONYMOUS_EMAIL, anonymous_subscription, erase
from crm.privacy.subjects import Subject, find_subject
from crm.settings import Settings

UNCONFIRMED_DAYS = 30
LIVE_SUBSCRIPTION = (m.SubscriptionStatus.PENDING, m.SubscriptionStatus.ACTIVE, m.SubscriptionStatus.PAUSED)


@dataclasses.dataclass
class Plan:
    subscriptions: list[Any]  # rows: id, email, created_at, contact_id
    contacts: list[Any]  # rows: id, name, email, updated_at
    contact_cutoff: dt.datetime
    subscription_cutoff: dt.datetime
    involvement: involvement.InvolvementPlan | None = None

    @property
    def members(self) -> list[Any]:
        return self.involvement.members if self.involvement else []

    @property
    def interests(self) -> list[Any]:
        return self.involvement.interests if self.involvement else []

    @property
    def joins(self) -> list[Any]:
        return self.involvement.joins if self.involvement else []

    @property
    def empty(self) -> bool:
        return not (self.subscriptions or self.contacts or self.members or self.interests or self.joins)


def contact_cutoff(now: dt.datetime, settings: Settings) -> dt.datetime:
    years = max(1, settings.retention_contact_years)
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28)


def plan(session: Session, *, now: dt.datetime, settings: Settings, limit: int = 1000) -> Plan:
    """What a retention run would anonymise (four statements: two here, two for involvement)."""
    sub_cutoff = now - dt.timedelta(days=UNCONFIRMED_DAYS)
    s = m.Subscription
    subscriptions = session.execute(
        select(s.id, s.email, s.created_at, s.contact_id)
        .where(s.status == m.SubscriptionStatus.PENDING, s.created_at < sub_cutoff)
        .order_by(s.created_at, s.id)
        .limit(limit)
    ).all()

    cutoff = contact_cutoff(now, settings)
    c = m.Contact
    inv, ce, pm, p, ii = m.Invitation, m.ConsentEntry, m.PartnershipMember, m.Partnership, m.InternshipInterest
    contacts = session.execute(
        select(c.id, c.name, c.email, c.updated_at)
        .where(
            c.erased_at.is_(None),
            c.updated_at < cutoff,
            c.created_at < cutoff,
            ~exists().where(m.Affiliation.contact_id == c.id),
            ~exists().where(or_(s.contact_id == c.id, s.email == c.email), s.status.in_(LIVE_SUBSCRIPTION)),
            ~exists().where(ce.email == c.email, ce.created_at >= cutoff),
            ~exists().where(
                inv.contact_id == c.id,
                or_(inv.created_at >= cutoff, inv.responded_at >= cutoff, inv.invited_at >= cutoff),
            ),
            ~exists().where(
                pm.contact_id == c.id,
                pm.partnership_id == p.id,
                func.coalesce(p.last_activity_at, p.updated_at) >= cutoff,
            ),
            ~exists().where(ii.email == c.email, ii.created_at >= cutoff),
            ~exists().where(m.InvolvementInterest.email == c.email, m.InvolvementInterest.created_at >= cutoff),
            ~exists().where(m.NetworkMember.email == c.email),  # the network's own rule decides (above)
            ~exists().where(m.User.contact_id == c.id, m.User.is_active.is_(True)),
        )
        .order_by(c.updated_at, c.id)
        .limit(limit)
    ).all()
    return Plan(
        subscriptions=subscriptions,
        contacts=contacts,
        contact_cutoff=cutoff,
        subscription_cutoff=sub_cutoff,
        involvement=involvement.plan(
            session, now=now, member_cutoff=cutoff, unconfirmed_days=UNCONFIRMED_DAYS, limit=limit
        ),
    )


def anonymise_subscription(session: Session, sub_id: int, email: str) -> None:
    """Only the subscription, its consent log and the emails sent for it."""
    st, ct, ot = m.Subscription.__table__, m.ConsentEntry.__table__, m.OutboxMessage.__table__
    session.execute(update(st).where(st.c.id == sub_id).values(**anonymous_subscription(sub_id)))
    session.execute(
        update(ct).where(or_(ct.c.subscription_id == sub_id, ct.c.email == email)).values(**ANONYMOUS_CONSENT)
    )
    session.execute(update(ot).where(ot.c.subscription_id == sub_id).values(**ANONYMOUS_EMAIL))


def _erase(session: Session, subject: Subject, now: dt.datetime, why: str) -> None:
    """Retention erases without a suppression: the person may subscribe again."""
    erase(session, subject, None, now=now, suppress=False, reason=f"retention: {why}")


def run(session: Session, *, now: dt.datetime, settings: Settings, dry_run: bool = False) -> dict[str, Any]:
    """Apply the retention plan (or only list it). Returns counts and the plan."""
    p = plan(session, now=now, settings=settings)
    result: dict[str, Any] = {
        "plan": p,
        "subscriptions": 0,
        "contacts": 0,
        "network_members": 0,
        "involvement_interests": 0,
        "network_joins": 0,
        "dry_run": dry_run,
    }
    if dry_run:
        result["subscriptions"] = len(p.subscriptions)
        result["contacts"] = len(p.contacts)
        result["network_members"] = len(p.members)
        result["involvement_interests"] = len(p.interests)
        result["network_joins"] = len(p.joins)
        return result
    if p.involvement is not None:  # first: a contact erased below may share an address with a member
        result["network_members"], result["involvement_interests"] = involvement.apply(session, p.involvement, now)
        joins = [row.email for row in p.joins]
        result["network_joins"] = involvement.forget_joins(session, joins, ANONYMOUS_CONSENT, ANONYMOUS_EMAIL)
    for row in p.subscriptions:
        keeps_address = (
            row.contact_id is not None
            or session.scalar(select(m.Contact.id).where(m.Contact.email == row.email)) is not None
            or involvement.held(session, row.email)
        )
        if keeps_address:
            anonymise_subscription(session, row.id, row.email)  # the contact (or involvement) keeps its address
        else:
            _erase(session, find_subject(session, email=row.email), now, "unconfirmed subscription")
        result["subscriptions"] += 1
    for row in p.contacts:
        idle = f"no consent, activity or affiliation for {settings.retention_contact_years} years"
        _erase(session, find_subject(session, contact_id=row.id), now, idle)
        result["contacts"] += 1
    return result
