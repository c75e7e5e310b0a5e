"""The segment builder page's service side: the choices it offers (from the taxonomy and the directory), saving a
campaign's audience (refused once sending started; audited old → new), and the names behind the ids."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.accounts.principal import Principal
from crm.campaigns import state
from crm.campaigns.audience import describe
from crm.campaigns.audience_segment import LED_BY, Segment

EVENTS_SHOWN = 200  # the most recent events offered (invited / came to)
ORGANISATIONS_SHOWN = 3000  # organisations offered to leave out


@dataclasses.dataclass(frozen=True, slots=True)
class Choices:
    """``(value, label)`` pairs for each group of the builder form."""

    mailings: list[tuple[str, str]]
    topics: list[tuple[int, str]]
    regions: list[tuple[int, str]]
    funders: list[tuple[int, str]]
    org_kinds: list[tuple[str, str]]
    vcse_categories: list[tuple[str, str]]
    led_by: list[tuple[str, str]]
    lists: list[tuple[int, str]]
    partnerships: list[tuple[int, str]]
    events: list[tuple[int, str]]
    organisations: list[tuple[int, str]]


KIND_LABELS = {
    m.OrgKind.VCSE: "VCSE (voluntary, community and social enterprise)",
    m.OrgKind.ACADEMIC: "Academic",
    m.OrgKind.FUNDER: "Funder",
    m.OrgKind.NHS: "NHS",
    m.OrgKind.OTHER: "Other",
}
CATEGORY_LABELS = {
    m.VcseCategory.OPEN_CONSULTATIVE: "Open consultative group",
    m.VcseCategory.PROJECT_SPECIFIC: "Project-specific group",
    m.VcseCategory.INSTITUTION_SPECIFIC: "Institution- or initiative-specific group",
    m.VcseCategory.FREE_STANDING: "Free-standing organisation",
}


def _pairs(session: Session, query: Any) -> list[tuple[Any, str]]:
    return [(r[0], r[1]) for r in session.execute(query)]


def choices(session: Session) -> Choices:
    """What the form offers: a handful of short statements, none per person."""
    o = m.Organisation
    approved = o.review_status == m.ReviewStatus.APPROVED
    with_contacts = select(m.Affiliation.organisation_id).distinct()
    return Choices(
        mailings=[(x.value, x.label) for x in m.Mailing],
        topics=_pairs(session, select(m.Topic.id, m.Topic.name).order_by(m.Topic.name)),
        regions=_pairs(session, select(m.Region.id, m.Region.name).order_by(m.Region.position)),
        funders=_pairs(
            session, select(o.id, o.name).where(o.kind == m.OrgKind.FUNDER, approved).order_by(o.name_normalised)
        ),
        org_kinds=[(k.value, KIND_LABELS[k]) for k in m.OrgKind],
        vcse_categories=[(c.value, CATEGORY_LABELS[c]) for c in m.VcseCategory],
        led_by=list(LED_BY.items()),
        lists=_pairs(session, select(m.ContactList.id, m.ContactList.name).order_by(m.ContactList.name)),
        partnerships=_pairs(
            session, select(m.Partnership.id, m.Partnership.title).order_by(func.lower(m.Partnership.title))
        ),
        events=[
            (r.id, f"{r.title} ({r.starts_at:%d %b %Y})")
            for r in session.execute(
                select(m.Event.id, m.Event.title, m.Event.starts_at)
                .order_by(m.Event.starts_at.desc(), m.Event.id.desc())
                .limit(EVENTS_SHOWN)
            )
        ],
        organisations=_pairs(
            session,
            select(o.id, o.name)
            .where(approved, o.id.in_(with_contacts))
            .order_by(o.name_normalised)
            .limit(ORGANISATIONS_SHOWN),
        ),
    )


def labels(session: Session, segment: Segment) -> dict[str, dict[int, str]]:
    """The names behind the ids a segment uses (for its description), in one statement per kind used."""

    def named(model_id: Any, name: Any, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        return {r[0]: r[1] for r in session.execute(select(model_id, name).where(model_id.in_(sorted(ids))))}

    s = segment
    return {
        "topics": named(m.Topic.id, m.Topic.name, {*s.sub_topic_ids, *s.topic_ids}),
        "regions": named(m.Region.id, m.Region.name, {*s.sub_region_ids, *s.region_ids}),
        "organisations": named(m.Organisation.id, m.Organisation.name, {*s.funder_ids, *s.exclude_organisation_ids}),
        "lists": named(m.ContactList.id, m.ContactList.name, {*s.list_ids, *s.exclude_list_ids}),
        "partnerships": named(m.Partnership.id, m.Partnership.title, set(s.partnership_ids)),
        "events": named(
            m.Event.id,
            m.Event.title,
            {
                *s.invited_event_ids,
                *s.attended_event_ids,
                *s.exclude_invited_event_ids,
                *s.exclude_attended_event_ids,
            },
        ),
    }


def description(session: Session, segment: Segment) -> list[str]:
    """The segment in sentences with names (the page's "Audience" summary and the audit entry)."""
    return describe(segment, labels(session, segment))


def save(session: Session, actor: Principal | None, campaign: m.Campaign, data: Mapping[str, Any]) -> Segment:
    """Store the builder form as the campaign's audience. Refused (``FieldErrors``) when the campaign can no longer
    be edited or the form is not valid; audited with the audience before and after, in words."""
    state.ensure_editable(campaign)
    segment = Segment.from_form(data)
    before = Segment.from_json(campaign.audience)
    if before.to_json() == segment.to_json() and campaign.audience:
        return segment
    old, new = description(session, before), description(session, segment)
    campaign.audience = segment.to_json()
    audit.record(
        session,
        actor,
        "changed the audience",
        "campaign",
        campaign.id,
        summary="; ".join(new)[:500],
        changes={"audience": [old or None, new]},
    )
    session.flush()
    return segment
