"""Suggesting VCSE partners for a funding call, with the reasons for each suggestion.

Two halves: ``load_facts`` reads what the ranking needs in a fixed number of statements (five, whatever the
number of organisations), and ``rank`` is a pure function over plain data, tested with hand-made cases.

Scoring (documented in docs/funding.md so the fellow can read why an organisation comes first):

- each shared topic: +4 ("Works on Psychosis, Carers")
- region: the organisation's region is one of the call's: +3; the call is UK-wide (or names no region) or the
  organisation works UK-wide: +1
- VCSE category known: +1; a free-standing organisation when the call lets a VCSE co-lead or lead: +1 more
- lived-experience-led: +2; user-led: +1, or +4 when the call suits small user-led groups (``crm.funding.fit``:
  core funding or a small grant, open to unregistered or user-led groups, light application), with that reason
- already partners with an academic organisation on a similar topic (a partnership sharing a topic with the
  call): +4; partners with an academic on other topics: +1

Who is suggested: when the call names topics, organisations sharing one of them or already partnering with an
academic on one of them; when it names none, organisations in its regions (UK-wide counts). Ties break by name.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from crm import models as m
from crm.funding import fit

USER_LED_SUITED = 4  # a user-led group on a call that suits small user-led groups (instead of +1)

CATEGORY_LABELS = {
    m.VcseCategory.OPEN_CONSULTATIVE: "open consultative group",
    m.VcseCategory.PROJECT_SPECIFIC: "project-specific group",
    m.VcseCategory.INSTITUTION_SPECIFIC: "institution- or initiative-specific group",
    m.VcseCategory.FREE_STANDING: "free-standing organisation",
}


@dataclasses.dataclass(frozen=True, slots=True)
class CallFacts:
    id: int
    topic_ids: frozenset[int]
    region_ids: frozenset[int]
    uk_wide_region_id: int | None
    vcse_can_lead: bool  # vcse_can_be_co_lead or lead_must_be_vcse
    suits_small_user_led: bool = False  # crm.funding.fit's rule: user-led groups rank higher


@dataclasses.dataclass(frozen=True, slots=True)
class AcademicLink:
    partner_name: str
    topic_ids: frozenset[int]


@dataclasses.dataclass(frozen=True, slots=True)
class Candidate:
    id: int
    name: str
    slug: str
    region_id: int | None
    region_name: str
    category: m.VcseCategory | None
    user_led: bool
    lived_experience_led: bool
    topic_ids: frozenset[int]
    academic_links: tuple[AcademicLink, ...] = ()
    already_on_call: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Suggestion:
    id: int
    name: str
    slug: str
    score: int
    reasons: tuple[str, ...]
    already_on_call: bool


def rank(
    call: CallFacts, candidates: list[Candidate], topic_names: dict[int, str], limit: int = 25
) -> list[Suggestion]:
    """Pure: score each relevant candidate (see the module docstring), best first."""
    scored: list[Suggestion] = []
    call_uk_wide = not call.region_ids or (
        call.uk_wide_region_id is not None and call.uk_wide_region_id in call.region_ids
    )
    for c in candidates:
        score = 0
        reasons: list[str] = []
        shared = sorted(call.topic_ids & c.topic_ids, key=lambda t: topic_names.get(t, ""))
        similar = [link for link in c.academic_links if link.topic_ids & call.topic_ids]
        if shared:
            score += 4 * len(shared)
            reasons.append("Works on " + ", ".join(topic_names.get(t, str(t)) for t in shared))
        region_match = False
        if c.region_id is not None and c.region_id in call.region_ids and c.region_id != call.uk_wide_region_id:
            score += 3
            region_match = True
            reasons.append(f"Based in {c.region_name}, a region of the call")
        elif call_uk_wide:
            score += 1
            region_match = True
            reasons.append("The call is open UK-wide")
        elif c.region_id is not None and c.region_id == call.uk_wide_region_id:
            score += 1
            region_match = True
            reasons.append("Works UK-wide")
        relevant = bool(shared or similar) if call.topic_ids else region_match
        if not relevant:
            continue
        if c.category is not None:
            score += 1
            label = CATEGORY_LABELS.get(c.category, c.category.value)
            article = "An" if label[0] in "aeiou" else "A"
            if c.category == m.VcseCategory.FREE_STANDING and call.vcse_can_lead:
                score += 1
                reasons.append(f"{article} {label}, able to co-lead as this call allows")
            else:
                reasons.append(f"{article} {label}")
        if c.lived_experience_led:
            score += 2
            reasons.append("Led by people with lived experience")
        if c.user_led and call.suits_small_user_led:
            score += USER_LED_SUITED
            reasons.append(f"User-led, and this call suits small user-led groups ({fit.SUITS_REASON})")
        elif c.user_led:
            score += 1
            reasons.append("User-led")
        if similar:
            score += 4
            names = sorted({link.partner_name for link in similar})
            reasons.append("Already partners with " + ", ".join(names) + " on a similar topic")
        elif c.academic_links:
            score += 1
            names = sorted({link.partner_name for link in c.academic_links})
            reasons.append("Already works with an academic partner (" + ", ".join(names) + ")")
        scored.append(
            Suggestion(
                id=c.id,
                name=c.name,
                slug=c.slug,
                score=score,
                reasons=tuple(reasons),
                already_on_call=c.already_on_call,
            )
        )
    scored.sort(key=lambda s: (-s.score, s.name.lower(), s.id))
    return scored[:limit]


def load_facts(session: Session, call: m.FundingCall) -> tuple[CallFacts, list[Candidate], dict[int, str]]:
    """Five statements: call topics, call regions (+ UK-wide id), candidates, their call topics, academic links."""
    topic_rows = list(
        session.execute(
            select(m.Topic.id, m.Topic.name)
            .join(m.funding_call_topics, m.funding_call_topics.c.topic_id == m.Topic.id)
            .where(m.funding_call_topics.c.call_id == call.id)
        )
    )
    topic_names = {r.id: r.name for r in topic_rows}
    region_rows = list(
        session.execute(
            select(m.Region.id, m.Region.code, m.funding_call_regions.c.call_id)
            .outerjoin(
                m.funding_call_regions,
                (m.funding_call_regions.c.region_id == m.Region.id) & (m.funding_call_regions.c.call_id == call.id),
            )
            .where((m.funding_call_regions.c.call_id.is_not(None)) | (m.Region.code == "UK"))
        )
    )
    uk_wide = next((r.id for r in region_rows if r.code == "UK"), None)
    facts = CallFacts(
        id=call.id,
        topic_ids=frozenset(topic_names),
        region_ids=frozenset(r.id for r in region_rows if r.call_id is not None),
        uk_wide_region_id=uk_wide,
        vcse_can_lead=call.vcse_can_be_co_lead or call.lead_must_be_vcse,
        suits_small_user_led=fit.call_suits(call),
    )
    vcse = (m.Organisation.kind == m.OrgKind.VCSE) & (m.Organisation.review_status == m.ReviewStatus.APPROVED)
    orgs = list(
        session.execute(
            select(
                m.Organisation.id,
                m.Organisation.name,
                m.Organisation.slug,
                m.Organisation.region_id,
                m.Region.name.label("region_name"),
                m.Organisation.vcse_category,
                m.Organisation.user_led,
                m.Organisation.lived_experience_led,
            )
            .outerjoin(m.Region, m.Region.id == m.Organisation.region_id)
            .where(vcse)
        )
    )
    org_topics: dict[int, set[int]] = defaultdict(set)
    if facts.topic_ids:
        for org_id, topic_id in session.execute(
            select(m.organisation_topics.c.organisation_id, m.organisation_topics.c.topic_id)
            .join(m.Organisation, m.Organisation.id == m.organisation_topics.c.organisation_id)
            .where(vcse, m.organisation_topics.c.topic_id.in_(facts.topic_ids))
        ):
            org_topics[org_id].add(topic_id)
    # Partnerships where a VCSE organisation sits on the VCSE side with an academic organisation on the other,
    # with the partnership's topics (one row per topic, or one row with NULL when it has none) and whether it
    # is linked to this call.
    vm = aliased(m.PartnershipMember)
    am = aliased(m.PartnershipMember)
    academic = aliased(m.Organisation)
    links: dict[int, dict[tuple[int, str], set[int]]] = defaultdict(lambda: defaultdict(set))
    on_call: set[int] = set()
    for row in session.execute(
        select(
            vm.organisation_id,
            m.Partnership.id.label("partnership_id"),
            m.Partnership.funding_call_id,
            academic.name.label("academic_name"),
            m.partnership_topics.c.topic_id,
        )
        .join(m.Partnership, m.Partnership.id == vm.partnership_id)
        .outerjoin(am, (am.partnership_id == vm.partnership_id) & (am.side == m.Side.ACADEMIC))
        .outerjoin(academic, academic.id == am.organisation_id)
        .outerjoin(m.partnership_topics, m.partnership_topics.c.partnership_id == m.Partnership.id)
        .where(vm.side == m.Side.VCSE, vm.organisation_id.is_not(None))
    ):
        if row.funding_call_id == call.id:
            on_call.add(row.organisation_id)
        if row.academic_name:
            topics = links[row.organisation_id][(row.partnership_id, row.academic_name)]
            if row.topic_id is not None:
                topics.add(row.topic_id)
    candidates = [
        Candidate(
            id=o.id,
            name=o.name,
            slug=o.slug,
            region_id=o.region_id,
            region_name=o.region_name or "",
            category=o.vcse_category,
            user_led=o.user_led,
            lived_experience_led=o.lived_experience_led,
            topic_ids=frozenset(org_topics.get(o.id, ())),
            academic_links=tuple(
                AcademicLink(partner_name=name, topic_ids=frozenset(t)) for (_, name), t in links.get(o.id, {}).items()
            ),
            already_on_call=o.id in on_call,
        )
        for o in orgs
    ]
    return facts, candidates, topic_names


def suggest_partners(session: Session, call: m.FundingCall, limit: int = 25) -> list[Suggestion]:
    facts, candidates, topic_names = load_facts(session, call)
    return rank(facts, candidates, topic_names, limit=limit)


def explain(suggestion: Suggestion) -> dict[str, Any]:
    return dataclasses.asdict(suggestion)
