"""How well a lived experience network member fits an involvement opportunity, with the reasons, and the ranking the
fellow's matching page and the alerts share.

The rule (``fit(member, opportunity)``, pure), each part skipped when the member left it open (chose nothing):

- **topics**: they share at least one topic (an opportunity naming no topic fits any member);
- **kind**: the opportunity's kind is one the member asked for;
- **place**: online and the member is happy online; or in one of the member's regions, or UK-wide; an opportunity
  that is online only does not fit a member who said no to online; one that names neither a region nor online fits;
- **payment**: one of the member's payment preferences is met: "paid" by a paid role, "vouchers" by a role whose
  payment note mentions vouchers, "volunteer" by an expenses-only (unpaid) role;
- **access needs** never rule a member out (the fellow can ask), but a member who told us about access needs ranks
  higher where the opportunity says what access support it offers, and the fellow sees a caution where it does not.

A member fits when no part fails. The score ranks those who fit: 3 for a shared topic, 2 for the kind, 2 for the
place, 1 for payment, 1 for access support; ties by name. ``tests/involvement/test_fit.py`` walks each part.
The facts come from ``member_facts`` and ``opportunity_facts`` (a few statements whatever the number of members).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.involvement.network import links_of
from crm.mailing.subscriptions import mailing_filter

UK_CODE = "UK"
WEIGHTS = {"topics": 3, "kind": 2, "place": 2, "payment": 1, "access": 1}


@dataclasses.dataclass(frozen=True, slots=True)
class MemberFacts:
    """What the rule reads of a member (ids and stored values, no personal text beyond whether needs were given)."""

    id: int
    name: str
    topic_ids: frozenset[int] = frozenset()
    region_ids: frozenset[int] = frozenset()
    kinds: frozenset[str] = frozenset()
    payment_preferences: frozenset[str] = frozenset()
    online_ok: bool = True
    has_access_needs: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class OpportunityFacts:
    """What the rule reads of an opportunity, with the names its reasons quote."""

    kind: str
    topic_ids: frozenset[int] = frozenset()
    region_id: int | None = None
    uk_wide: bool = False
    online: bool = False
    paid: bool = False
    vouchers: bool = False
    has_access_support: bool = False
    topic_names: tuple[tuple[int, str], ...] = ()
    region_name: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Fit:
    """The verdict: ``fits`` when nothing failed; ``reasons`` why it suits them, ``misses`` why it does not,
    ``cautions`` what the fellow should check."""

    fits: bool
    score: int
    reasons: tuple[str, ...]
    misses: tuple[str, ...]
    cautions: tuple[str, ...]


def _kind_label(value: str) -> str:
    try:
        return m.InvolvementKind(value).label
    except ValueError:
        return value


def _payment_words(values: Iterable[str]) -> str:
    labels = {p.value: p.label.lower() for p in m.PaymentPreference}
    return " or ".join(labels.get(v, v) for v in sorted(values))


def fit(member: MemberFacts, opp: OpportunityFacts) -> Fit:
    """The rule in the module docstring, for one member and one opportunity."""
    reasons: list[str] = []
    misses: list[str] = []
    cautions: list[str] = []
    score = 0
    names = dict(opp.topic_names)
    if member.topic_ids and opp.topic_ids:
        shared = member.topic_ids & opp.topic_ids
        if shared:
            score += WEIGHTS["topics"]
            reasons.append("Topics they chose: " + ", ".join(sorted(names.get(i, str(i)) for i in shared)))
        else:
            misses.append("None of the topics they chose")
    if member.kinds:
        if opp.kind in member.kinds:
            score += WEIGHTS["kind"]
            reasons.append(f"They asked for: {_kind_label(opp.kind).lower()}")
        else:
            misses.append(f"They did not ask for: {_kind_label(opp.kind).lower()}")
    place, place_miss = _place(member, opp)
    if place:
        score += WEIGHTS["place"]
        reasons.append(place)
    if place_miss:
        misses.append(place_miss)
    if member.payment_preferences:
        offered = {"paid"} if opp.paid else {"volunteer"}
        if opp.vouchers:
            offered.add("vouchers")
        met = offered & member.payment_preferences
        if met:
            score += WEIGHTS["payment"]
            reasons.append(f"Payment they prefer: {_payment_words(met)}")
        else:
            offer = "paid" if opp.paid else "expenses only"
            misses.append(f"Payment they prefer: {_payment_words(member.payment_preferences)}; this one is {offer}")
    if member.has_access_needs:
        if opp.has_access_support:
            score += WEIGHTS["access"]
            reasons.append("Says what access support it offers (they told us about access needs)")
        else:
            cautions.append("They told us about access needs, and this opportunity does not say what support it offers")
    return Fit(not misses, score, tuple(reasons), tuple(misses), tuple(cautions))


def _place(member: MemberFacts, opp: OpportunityFacts) -> tuple[str, str]:
    """(reason, miss) for where it happens."""
    if opp.online and member.online_ok:
        return "Online, and they are happy to take part online", ""
    if opp.region_id is None:
        if opp.online:  # online only, and this member said no to online
            return "", "Online only, and they prefer not to take part online"
        return "", ""  # no place given: nothing to hold against it
    if not member.region_ids:
        return "", ""
    if opp.uk_wide:
        return "UK-wide", ""
    if opp.region_id in member.region_ids:
        return f"In {opp.region_name or 'one of their regions'}, a region they chose", ""
    return "", f"In {opp.region_name or 'a region'}, not one they chose"


@dataclasses.dataclass(frozen=True, slots=True)
class Ranked:
    member: MemberFacts
    fit: Fit


def rank(members: Iterable[MemberFacts], opp: OpportunityFacts, *, include_misses: bool = False) -> list[Ranked]:
    """Members who fit, best first (score, then name); with ``include_misses`` the rest follow, in name order."""
    ranked = [Ranked(mf, fit(mf, opp)) for mf in members]
    if not include_misses:
        ranked = [r for r in ranked if r.fit.fits]
    return sorted(ranked, key=lambda r: (not r.fit.fits, -r.fit.score, r.member.name.casefold(), r.member.id))


# --- the facts from the database --------------------------------------------------------------------------------


def opportunity_facts(session: Session, opp: m.InvolvementOpportunity) -> OpportunityFacts:
    """An opportunity's facts (two statements: its topics with their names, its region)."""
    links = m.involvement_opportunity_topics
    topics = session.execute(
        select(m.Topic.id, m.Topic.name)
        .join(links, links.c.topic_id == m.Topic.id)
        .where(links.c.opportunity_id == opp.id)
        .order_by(m.Topic.name)
    ).all()
    region = session.execute(select(m.Region.name, m.Region.code).where(m.Region.id == opp.region_id)).first()
    return OpportunityFacts(
        kind=opp.kind.value,
        topic_ids=frozenset(t.id for t in topics),
        region_id=opp.region_id,
        uk_wide=region is not None and region.code == UK_CODE,
        online=bool(opp.online),
        paid=bool(opp.paid),
        vouchers="voucher" in (opp.payment_note or "").lower(),
        has_access_support=bool((opp.accessibility_support or "").strip()),
        topic_names=tuple((t.id, t.name) for t in topics),
        region_name=region.name if region is not None else "",
    )


def member_facts(session: Session, member_ids: Sequence[int] | None = None) -> list[MemberFacts]:
    """Active members' facts (all of them, or those of ``member_ids``): three statements."""
    NM = m.NetworkMember
    query = select(NM.id, NM.name, NM.kinds, NM.payment_preferences, NM.online_ok, NM.access_needs).where(
        NM.status == m.NetworkMemberStatus.ACTIVE
    )
    if member_ids is not None:
        query = query.where(NM.id.in_(sorted(set(member_ids))))
    rows = session.execute(query.order_by(NM.id)).all()
    topics, regions = links_of(session, [r.id for r in rows])
    return [
        MemberFacts(
            id=r.id,
            name=r.name,
            topic_ids=frozenset(topics.get(r.id, ())),
            region_ids=frozenset(regions.get(r.id, ())),
            kinds=frozenset(r.kinds or ()),
            payment_preferences=frozenset(r.payment_preferences or ()),
            online_ok=bool(r.online_ok),
            has_access_needs=bool((r.access_needs or "").strip()),
        )
        for r in rows
    ]


@dataclasses.dataclass(frozen=True, slots=True)
class Match:
    """A ranked member as the fellow's matching page shows them."""

    member: MemberFacts
    fit: Fit
    alerts_on: bool
    interested: bool


def matches(session: Session, opp: m.InvolvementOpportunity, *, include_misses: bool = False) -> list[Match]:
    """Active members ranked for ``opp`` (those who fit; with ``include_misses`` the rest after them, with why not),
    with whether they get alerts and whether they already said they are interested: seven statements."""
    ranked = rank(member_facts(session), opportunity_facts(session, opp), include_misses=include_misses)
    ids = [r.member.id for r in ranked]
    NM, S, I = m.NetworkMember, m.Subscription, m.InvolvementInterest  # noqa: E741
    receiving = set(
        session.scalars(
            select(NM.id)
            .join(S, S.email == NM.email)
            .where(NM.id.in_(ids), S.status == m.SubscriptionStatus.ACTIVE, mailing_filter(m.Mailing.INVOLVEMENT.value))
        )
    )
    interested = set(
        session.scalars(select(NM.id).join(I, I.email == NM.email).where(NM.id.in_(ids), I.opportunity_id == opp.id))
    )
    return [Match(r.member, r.fit, r.member.id in receiving, r.member.id in interested) for r in ranked]
