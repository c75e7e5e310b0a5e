"""The map's counts: one grouped statement per tally measure, each counting every topic and region at once.

These run in the map's job and ``crm map refresh`` (``crm.map.tally``), never in a page: open funding calls and
internships number hundreds of thousands at the million-row scale, and no exact count of them fits a page's 50 ms.
Each statement is a ``UNION ALL`` of two grouped arms: every topic (topic 0) and topic by topic (through the topic
link table), both by region. A row is ``(sub-key, topic id, region id, count)``; region 0 is "no region".

How national items are counted (also in docs/map.md):

- organisations (by kind, involvement-group category, user-led, lived-experience-led): by their own region; one
  whose region is "UK-wide" is shown apart, not in every tile (the directory's region filter does the same);
- open funding calls: in each region the call names; a call tagged "UK-wide" counts once under UK-wide (the map
  adds it to every tile, as the calls list's region filter keeps it); a call naming no region is "no region" (the
  list's region filter drops it, so a tile never counts more than its link lists);
- open internships: by their region; a UK-wide one counts in every tile (as the list's region filter);
- upcoming events: by their host organisation's region and topics (events have neither of their own);
- partnerships (admin) by stage: in each region where a member organisation is, once per region;
- subscribers (admin): in each region they chose; one who chose none or "UK-wide" counts everywhere.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Integer, exists, func, literal, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import CTE

from crm import models as m
from crm.directory.organisations import public_condition
from crm.directory.taxonomy import CATEGORY_LABELS, KIND_LABELS

NO_REGION = 0
EVERY_TOPIC = 0

Row = tuple[str, int, int, int]  # (sub-key, topic id or EVERY_TOPIC, region id or NO_REGION, count)

ORGANISATIONS = "organisations"  # read as "organisations-public" or "organisations-admin" (tally_name)
CALLS = "calls"
INTERNSHIPS = "internships"
EVENTS = "events"
PARTNERSHIPS = "partnerships"
SUBSCRIBERS = "subscribers"
LIVE = "live"  # the partnerships' sub-key for every live stage together
ALL_ORGANISATIONS = "organisations"  # the organisations' sub-key for all of them
PLACED_BY_ORGANISATIONS = (f"{ORGANISATIONS}-public", f"{ORGANISATIONS}-admin", EVENTS, PARTNERSHIPS)

LIVE_STAGES = (
    m.PartnershipStage.IDEA,
    m.PartnershipStage.EXPLORING,
    m.PartnershipStage.PROPOSAL,
    m.PartnershipStage.FUNDED,
    m.PartnershipStage.ACTIVE,
)


@dataclasses.dataclass(frozen=True)
class Context:
    now: dt.datetime  # "open" and "upcoming" are as of this moment
    uk_id: int | None  # the "UK-wide" region


def tally_name(tally: str, public: bool) -> str:
    """The stored measure: organisations are counted twice, as the public directory shows them and for the fellow."""
    if tally == ORGANISATIONS:
        return f"{ORGANISATIONS}-{'public' if public else 'admin'}"
    return tally


def org_scope(public: bool) -> ColumnElement[bool]:
    """Public: what the public directory shows. Admin: every approved organisation (private ones too)."""
    if public:
        return public_condition()
    return (m.Organisation.review_status == m.ReviewStatus.APPROVED) & m.Organisation.archived_at.is_(None)


def organisation_subsets() -> dict[str, ColumnElement[bool] | None]:
    """The organisations' sub-keys (the map's measure keys) and which organisations each counts (None: all)."""
    o = m.Organisation
    return {
        ALL_ORGANISATIONS: None,
        **{f"kind-{k.value}": o.kind == k for k in KIND_LABELS},
        "user-led": o.user_led.is_(True),
        "lived-experience-led": o.lived_experience_led.is_(True),
        **{f"category-{c.value}": o.vcse_category == c for c in CATEGORY_LABELS},
    }


def _rows(result: Any, sub_keys: list[str]) -> list[Row]:
    """``(topic, region, n1, n2, ...)`` rows into tally rows, one per non-zero count."""
    out: list[Row] = []
    for topic_id, region_id, *counts in result:
        for sub_key, n in zip(sub_keys, counts, strict=True):
            if n:
                out.append((sub_key, int(topic_id), int(region_id or NO_REGION), int(n)))
    return out


def count_organisations(session: Session, ctx: Context, *, public: bool) -> list[Row]:
    """Every subset of organisations (kinds, categories, user-led ...) in the same pass: a filtered count each."""
    o, ot = m.Organisation, m.organisation_topics
    subsets = organisation_subsets()
    counts = [func.count() if cond is None else func.count().filter(cond) for cond in subsets.values()]
    scope = org_scope(public)
    every = select(literal(EVERY_TOPIC, Integer), o.region_id, *counts).where(scope).group_by(o.region_id)
    by_topic = (
        select(ot.c.topic_id, o.region_id, *counts)
        .join_from(o, ot, ot.c.organisation_id == o.id)
        .where(scope)
        .group_by(ot.c.topic_id, o.region_id)
    )
    return _rows(session.execute(union_all(every, by_topic)), list(subsets))


def _topics_and_regions(places: CTE, topic_links: Any, topic_owner: str) -> Any:
    """``(topic, region, count)`` of the ``(owner_id, region_id)`` rows in ``places``, every topic and each topic."""
    every = select(literal(EVERY_TOPIC, Integer), places.c.region_id, func.count()).group_by(places.c.region_id)
    by_topic = (
        select(topic_links.c.topic_id, places.c.region_id, func.count())
        .join_from(places, topic_links, topic_links.c[topic_owner] == places.c.owner_id)
        .group_by(topic_links.c.topic_id, places.c.region_id)
    )
    return union_all(every, by_topic)


def _places(owner: Any, links: Any, owner_key: str, scope: list[Any], uk_id: int | None, no_region: int) -> CTE:
    """Each owner in scope (a call, a subscription) with the regions it is counted in: every region it names; the
    UK-wide region once for one tagged UK-wide (whatever else it names); ``no_region`` for one naming none. An
    owner is in one arm only, so the count needs no DISTINCT (the link table's key makes each pair unique)."""
    named = links.alias("named")
    names_any = exists().where(named.c[owner_key] == owner.id)
    names_uk = exists().where(named.c[owner_key] == owner.id, named.c.region_id == uk_id)
    regional = (
        select(links.c[owner_key].label("owner_id"), links.c.region_id.label("region_id"))
        .join_from(links, owner, links.c[owner_key] == owner.id)
        .where(*scope, ~names_uk)
    )
    uk_wide = select(owner.id, literal(uk_id, Integer)).where(*scope, names_uk)
    unnamed = select(owner.id, literal(no_region, Integer)).where(*scope, ~names_any)
    return union_all(regional, uk_wide, unnamed).cte("places")


def count_calls(session: Session, ctx: Context) -> list[Row]:
    """Open calls (published, last deadline ahead: as ``/funding-calls``); naming no region is "no region"."""
    c = m.FundingCall
    scope = [c.status == m.CallStatus.PUBLISHED, c.last_deadline_at > ctx.now]
    places = _places(c, m.funding_call_regions, "call_id", scope, ctx.uk_id, NO_REGION)
    return _rows(session.execute(_topics_and_regions(places, m.funding_call_topics, "call_id")), [""])


def count_subscribers(session: Session, ctx: Context) -> list[Row]:
    """Active subscriptions; one that chose no region counts as UK-wide (everywhere)."""
    s = m.Subscription
    scope = [s.status == m.SubscriptionStatus.ACTIVE]
    uk = ctx.uk_id if ctx.uk_id is not None else NO_REGION
    places = _places(s, m.subscription_regions, "subscription_id", scope, ctx.uk_id, uk)
    return _rows(session.execute(_topics_and_regions(places, m.subscription_topics, "subscription_id")), [""])


def count_internships(session: Session, ctx: Context) -> list[Row]:
    """Open internships (published, not yet closed: as ``/internships``) by their own region. The open ones are
    placed once (ids from the ``(status, closes_at)`` index, regions from the ``region_id`` index: ``id + 0`` stops
    SQLite looking each id up in the table) and both arms count from there: 2.4 times faster on SQLite at the
    million-row scale than two arms that each find the open rows again."""
    i = m.Internship
    open_ids = select(i.id).where(i.status == m.InternshipStatus.PUBLISHED, i.closes_at > ctx.now)
    places = (
        select(i.id.label("owner_id"), i.region_id.label("region_id")).where((i.id + 0).in_(open_ids)).cte("places")
    )
    return _rows(session.execute(_topics_and_regions(places, m.internship_topics, "internship_id")), [""])


def count_events(session: Session, ctx: Context) -> list[Row]:
    """Published events that have not ended, by the host's region and the host's topics."""
    e, host, ot = m.Event, m.Organisation, m.organisation_topics
    upcoming = (e.status == m.EventStatus.PUBLISHED, e.ends_at > ctx.now)
    every = (
        select(literal(EVERY_TOPIC, Integer), host.region_id, func.count())
        .select_from(e)
        .outerjoin(host, host.id == e.host_organisation_id)
        .where(*upcoming)
        .group_by(host.region_id)
    )
    by_topic = (
        select(ot.c.topic_id, host.region_id, func.count())
        .select_from(e)
        .join(host, host.id == e.host_organisation_id)
        .join(ot, ot.c.organisation_id == host.id)
        .where(*upcoming)
        .group_by(ot.c.topic_id, host.region_id)
    )
    return _rows(session.execute(union_all(every, by_topic)), [""])


def count_partnerships(session: Session, ctx: Context) -> list[Row]:
    """Partnerships (not archived) by stage, once in each region a member organisation is; "live" adds the live
    stages up (a partnership is at one stage, so the sum counts each once)."""
    p, pm, o, pt = m.Partnership, m.PartnershipMember, m.Organisation, m.partnership_topics
    members = (pm.partnership_id == p.id, o.id == pm.organisation_id)
    count = func.count(func.distinct(p.id))
    every = (
        select(literal(EVERY_TOPIC, Integer), o.region_id, p.stage, count)
        .select_from(p)
        .join(pm, members[0])
        .join(o, members[1])
        .where(p.archived_at.is_(None))
        .group_by(o.region_id, p.stage)
    )
    by_topic = (
        select(pt.c.topic_id, o.region_id, p.stage, count)
        .select_from(p)
        .join(pt, pt.c.partnership_id == p.id)
        .join(pm, members[0])
        .join(o, members[1])
        .where(p.archived_at.is_(None))
        .group_by(pt.c.topic_id, o.region_id, p.stage)
    )
    out: list[Row] = []
    live: dict[tuple[int, int], int] = {}
    for topic_id, region_id, stage, n in session.execute(union_all(every, by_topic)):
        stage = m.PartnershipStage(stage)
        key = (int(topic_id), int(region_id or NO_REGION))
        out.append((stage.value, *key, int(n)))
        if stage in LIVE_STAGES:
            live[key] = live.get(key, 0) + int(n)
    return out + [(LIVE, *key, n) for key, n in live.items()]


TALLIES: dict[str, Callable[[Session, Context], list[Row]]] = {
    tally_name(ORGANISATIONS, True): lambda session, ctx: count_organisations(session, ctx, public=True),
    tally_name(ORGANISATIONS, False): lambda session, ctx: count_organisations(session, ctx, public=False),
    CALLS: count_calls,
    INTERNSHIPS: count_internships,
    EVENTS: count_events,
    PARTNERSHIPS: count_partnerships,
    SUBSCRIBERS: count_subscribers,
}
