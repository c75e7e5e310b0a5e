"""What the map can show, and the one query per measure that counts it by region.

Every measure is counted by a single statement grouped by region, whatever the number of rows (tests assert the
statement count at two sizes). How national items are counted (also in docs/map.md):

- organisations (by kind, involvement-group category, user-led, lived-experience-led): by their own region; an
  organisation whose region is "UK-wide" is shown apart, not in every tile (the directory's region filter does the
  same), and one without a region is counted as "no region";
- open funding calls: a call for a region counts there; a UK-wide call (its regions include "UK-wide", or it names
  no region) counts in every region;
- open internships: by their region; a UK-wide internship counts in every region (the internship list does the
  same); one with no region given is counted as "no region";
- upcoming events: by their host organisation's region (events have no region of their own); a UK-wide host's
  event counts everywhere; the topic filter matches the host's topics (events have no topics);
- partnerships (admin) at a stage: in each region where a member organisation is;
- subscribers (admin): active subscriptions, in each region they chose; one who chose none or "UK-wide" counts
  everywhere.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, cast, exists, func, null, select, union_all
from sqlalchemy.orm import Session

from crm import models as m
from crm.directory.organisations import public_condition
from crm.directory.taxonomy import CATEGORY_LABELS, KIND_LABELS

Links = Callable[[str, str, bool], str | None]  # (region slug, topic slug, admin) -> list URL


@dataclasses.dataclass(frozen=True)
class Counts:
    """A measure's figures: by region id, what counts in every region (or apart), and what has no region."""

    by_region: dict[int, int]
    national: int = 0
    unplaced: int = 0


@dataclasses.dataclass(frozen=True)
class Measure:
    key: str
    label: str  # "Charity or community group (VCSE)"
    group: str  # the <optgroup> it is listed under
    noun: str  # "organisations"
    count: Callable[[Session, dict[str, Any]], Counts]
    link: Links
    admin_only: bool = False
    national_everywhere: bool = False  # True: ``national`` is added to every tile; False: shown apart
    national_label: str = "UK-wide"
    unplaced_label: str = "No region"


def _query(base: str, filters: dict[str, str], region: str, topic: str) -> str:
    pairs = {**filters, "region": region, **({"topic": topic} if topic else {})}
    return base + "?" + "&".join(f"{k}={v}" for k, v in pairs.items() if v)


# ---------------------------------------------------------------------------------------------- organisations


def org_scope(public: bool) -> ColumnElement[bool]:
    """Public: what the public directory shows. Admin: every approved organisation (private ones too)."""
    if public:
        return public_condition()
    return (m.Organisation.review_status == m.ReviewStatus.APPROVED) & m.Organisation.archived_at.is_(None)


def tagged(owner_column: Any, links: Any, ctx: dict[str, Any]) -> Select[Any]:
    """The ids tagged with the chosen topic: an IN list the database drives from the link table's topic index
    (a correlated EXISTS would be checked once per row of the whole table)."""
    return select(owner_column).where(links.c.topic_id == ctx["topic_id"])


def _grouped(session: Session, query: Select[Any], uk_id: int | None) -> Counts:
    """``(region_id, n)`` rows into Counts: the UK-wide region's rows are ``national``, NULL is ``unplaced``."""
    by_region: dict[int, int] = {}
    national = unplaced = 0
    for region_id, n in session.execute(query):
        if region_id is None:
            unplaced += int(n)
        elif region_id == uk_id:
            national += int(n)
        else:
            by_region[int(region_id)] = int(n)
    return Counts(by_region, national, unplaced)


def organisations_counter(*conditions: Any) -> Callable[[Session, dict[str, Any]], Counts]:
    def count(session: Session, ctx: dict[str, Any]) -> Counts:
        o, ot = m.Organisation, m.organisation_topics
        query = select(o.region_id, func.count()).where(org_scope(ctx["public"]), *conditions)
        if ctx["topic_id"]:
            query = query.where(o.id.in_(tagged(ot.c.organisation_id, ot, ctx)))
        return _grouped(session, query.group_by(o.region_id), ctx["uk_id"])

    return count


def organisation_links(**filters: str) -> Links:
    def link(region: str, topic: str, admin: bool) -> str:
        return _query("/admin/organisations" if admin else "/organisations", filters, region, topic)

    return link


# ------------------------------------------------------------------------------------ calls and subscribers


def _national_or_specific(
    session: Session, owner: Any, links: Any, link_owner: Any, scope: list[Any], topic_ids: Any, uk_id: int | None
) -> Counts:
    """Owners (calls, subscriptions) tagged with regions: one statement of two arms. Arm 1 counts the UK-wide ones
    (no region, or "UK-wide" among them) once, as every owner in scope less those tagged only with regions: the
    first is an index-only count, the second is driven from the (small) link table, so no owner row is checked
    one by one. Arm 2 counts the others in each region they name."""
    owner_id = owner.id
    tagged = links.alias()
    uk_tag = exists().where(tagged.c[link_owner.key] == owner_id, tagged.c.region_id == uk_id)
    # The topic filter goes on the link table's owner column where the link table drives, on the owner's id where
    # the owner table does: either way it is an IN list the database walks from the topic index.
    owner_topic = [owner_id.in_(topic_ids)] if topic_ids is not None else []
    link_topic = [link_owner.in_(topic_ids)] if topic_ids is not None else []
    in_scope = select(func.count()).select_from(owner).where(*scope, *owner_topic).scalar_subquery()
    regional_only = (
        select(func.count(func.distinct(owner_id)))
        .join_from(links, owner, link_owner == owner_id)
        .where(*scope, *link_topic, ~uk_tag)
        .scalar_subquery()
    )
    national = select(cast(null(), Integer).label("region_id"), (in_scope - regional_only).label("n"))
    specific = (
        select(links.c.region_id, func.count(func.distinct(owner_id)))
        .join_from(links, owner, link_owner == owner_id)
        .where(*scope, *link_topic, links.c.region_id != uk_id, ~uk_tag)
        .group_by(links.c.region_id)
    )
    by_region: dict[int, int] = {}
    total = 0
    for region_id, n in session.execute(union_all(national, specific)):
        if region_id is None:
            total = int(n)
        else:
            by_region[int(region_id)] = int(n)
    return Counts(by_region, national=total)


def count_calls(session: Session, ctx: dict[str, Any]) -> Counts:
    c, ct = m.FundingCall, m.funding_call_topics
    scope = [c.status == m.CallStatus.PUBLISHED, c.last_deadline_at > ctx["now"]]
    topic_ids = tagged(ct.c.call_id, ct, ctx) if ctx["topic_id"] else None
    links = m.funding_call_regions
    return _national_or_specific(session, c, links, links.c.call_id, scope, topic_ids, ctx["uk_id"])


def count_subscribers(session: Session, ctx: dict[str, Any]) -> Counts:
    s, st = m.Subscription, m.subscription_topics
    topic_ids = tagged(st.c.subscription_id, st, ctx) if ctx["topic_id"] else None
    links = m.subscription_regions
    return _national_or_specific(
        session, s, links, links.c.subscription_id, [s.status == m.SubscriptionStatus.ACTIVE], topic_ids, ctx["uk_id"]
    )


# ------------------------------------------------------------------------------------ internships and events


def count_internships(session: Session, ctx: dict[str, Any]) -> Counts:
    i, it = m.Internship, m.internship_topics
    is_open = (i.status == m.InternshipStatus.PUBLISHED, i.closes_at > ctx["now"])
    if ctx["topic_id"]:
        query = select(i.region_id, func.count()).where(*is_open, i.id.in_(tagged(it.c.internship_id, it, ctx)))
    else:
        # The open ids come from the (status, closes_at, id) index and the regions from the region_id index, so
        # no table row is read: ``id + 0`` stops SQLite from looking each id up by rowid instead (5x faster on the
        # benchmark database; PostgreSQL makes it a hash semi-join).
        open_ids = select(i.id).where(*is_open)
        query = select(i.region_id, func.count()).where((i.id + 0).in_(open_ids))
    return _grouped(session, query.group_by(i.region_id), ctx["uk_id"])


def count_events(session: Session, ctx: dict[str, Any]) -> Counts:
    e, host, ot = m.Event, m.Organisation, m.organisation_topics
    query = (
        select(host.region_id, func.count())
        .select_from(e)
        .outerjoin(host, host.id == e.host_organisation_id)
        .where(e.status == m.EventStatus.PUBLISHED, e.ends_at > ctx["now"])
    )
    if ctx["topic_id"]:
        query = query.where(host.id.in_(tagged(ot.c.organisation_id, ot, ctx)))
    return _grouped(session, query.group_by(host.region_id), ctx["uk_id"])


# -------------------------------------------------------------------------------------------- partnerships

LIVE_STAGES = (
    m.PartnershipStage.IDEA,
    m.PartnershipStage.EXPLORING,
    m.PartnershipStage.PROPOSAL,
    m.PartnershipStage.FUNDED,
    m.PartnershipStage.ACTIVE,
)


def partnerships_counter(stages: tuple[m.PartnershipStage, ...]) -> Callable[[Session, dict[str, Any]], Counts]:
    def count(session: Session, ctx: dict[str, Any]) -> Counts:
        p, pm, o, pt = m.Partnership, m.PartnershipMember, m.Organisation, m.partnership_topics
        query = (
            select(o.region_id, func.count(func.distinct(p.id)))
            .select_from(p)
            .join(pm, pm.partnership_id == p.id)
            .join(o, o.id == pm.organisation_id)
            .where(p.stage.in_(stages), p.archived_at.is_(None))
        )
        if ctx["topic_id"]:
            query = query.where(p.id.in_(tagged(pt.c.partnership_id, pt, ctx)))
        return _grouped(session, query.group_by(o.region_id), ctx["uk_id"])

    return count


def _fixed(url: str) -> Links:
    """A list without a region filter: every tile links to the whole list (topic kept where it filters)."""
    return lambda region, topic, admin: url


def _list(public: str, admin_url: str | None = None) -> Links:
    def link(region: str, topic: str, admin: bool) -> str:
        return _query(admin_url if admin and admin_url else public, {}, region, topic)

    return link


# ---------------------------------------------------------------------------------------------- the list

ORGS = "Organisations"
GROUPS = "Involvement groups"
ACTIVITY = "Calls, events and internships"
FELLOW = "Partnerships and subscribers"


def _measures() -> list[Measure]:
    o = m.Organisation
    out = [
        Measure(
            "organisations",
            "All organisations",
            ORGS,
            "organisations",
            organisations_counter(),
            _list("/organisations", "/admin/organisations"),
        )
    ]
    out += [
        Measure(
            f"kind-{k.value}",
            label,
            ORGS,
            "organisations",
            organisations_counter(o.kind == k),
            organisation_links(kind=k.value),
        )
        for k, label in KIND_LABELS.items()
    ]
    out += [
        Measure(
            "user-led",
            "Led by service users",
            GROUPS,
            "groups",
            organisations_counter(o.user_led.is_(True)),
            organisation_links(user_led="1"),
        ),
        Measure(
            "lived-experience-led",
            "Led by people with lived experience",
            GROUPS,
            "groups",
            organisations_counter(o.lived_experience_led.is_(True)),
            organisation_links(lived_experience_led="1"),
        ),
    ]
    out += [
        Measure(
            f"category-{c.value}",
            label,
            GROUPS,
            "groups",
            organisations_counter(o.vcse_category == c),
            organisation_links(category=c.value),
        )
        for c, label in CATEGORY_LABELS.items()
    ]
    out += [
        Measure(
            "funding-calls",
            "Open funding calls",
            ACTIVITY,
            "calls",
            count_calls,
            _list("/funding-calls", "/admin/funding-calls"),
            national_everywhere=True,
            national_label="UK-wide calls (those naming no region, or UK-wide)",
        ),
        Measure(
            "events",
            "Upcoming events",
            ACTIVITY,
            "events",
            count_events,
            _fixed("/events"),
            national_everywhere=True,
            national_label="events hosted by UK-wide organisations",
            unplaced_label="Host has no region, or no host",
        ),
        Measure(
            "internships",
            "Open internships",
            ACTIVITY,
            "internships",
            count_internships,
            _list("/internships"),
            national_everywhere=True,
            national_label="UK-wide internships",
        ),
        Measure(
            "partnerships",
            "Live partnerships (idea to active)",
            FELLOW,
            "partnerships",
            partnerships_counter(LIVE_STAGES),
            _fixed("/admin/partnerships"),
            admin_only=True,
            national_label="With a UK-wide member",
            unplaced_label="Members have no region",
        ),
    ]
    out += [
        Measure(
            f"partnerships-{s.value}",
            f"Partnerships at {s.value}",
            FELLOW,
            "partnerships",
            partnerships_counter((s,)),
            _fixed(f"/admin/partnerships?stage={s.value}"),
            admin_only=True,
            national_label="With a UK-wide member",
            unplaced_label="Members have no region",
        )
        for s in m.PartnershipStage
    ]
    out.append(
        Measure(
            "subscribers",
            "Subscribers (active)",
            FELLOW,
            "subscribers",
            count_subscribers,
            _fixed("/admin/subscribers"),
            admin_only=True,
            national_everywhere=True,
            national_label="subscribers who chose no region, or UK-wide",
        )
    )
    return out


MEASURES: dict[str, Measure] = {measure.key: measure for measure in _measures()}
DEFAULT = "organisations"


def available(admin: bool) -> list[Measure]:
    return [measure for measure in MEASURES.values() if admin or not measure.admin_only]


def pick(key: str | None, admin: bool) -> Measure:
    """The measure asked for, or the default for an unknown or not-allowed key (a select filter, never an error)."""
    measure = MEASURES.get(key or "")
    if measure is None or (measure.admin_only and not admin):
        return MEASURES[DEFAULT]
    return measure


def count(
    session: Session, measure: Measure, *, public: bool, topic_id: int | None, uk_id: int | None, now: dt.datetime
) -> Counts:
    """The one statement of ``measure``."""
    return measure.count(session, {"public": public, "topic_id": topic_id, "uk_id": uk_id, "now": now})
