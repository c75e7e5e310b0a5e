"""Where the gaps are: a topic x region grid for the fellow (``/admin/map/gaps``), its CSV and its summary line in
the impact report.

A cell (topic, region) marks, from the organisations, partnerships and subscriptions tagged with that topic in that
region (UK-wide ones are not counted in a region: they do not say where they work):

- **no user-led group**: no approved organisation led by service users;
- **no academic partner**: no approved university or research group;
- **no live partnership**: no partnership from idea to active with a member organisation there;
- **demand outnumbers groups**: more active subscribers who chose both the topic and the region than charities
  and community groups (VCSE organisations) that could answer them.

Two statements whatever the data size: the reference rows, and one UNION ALL of a grouped query per source.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.orm import Session

from crm import models as m
from crm.directory.export import safe_cell
from crm.map.counting import LIVE_STAGES, org_scope
from crm.map.figures import reference_rows
from crm.map.population import POPULATION

GAP_KINDS = {
    "user_led": ("U", "No user-led group"),
    "academic": ("A", "No academic partner"),
    "partnership": ("P", "No live partnership"),
    "demand": ("D", "Subscribers outnumber groups"),
}
SORTS = {"topic": "Topic, A to Z", "most": "Most gaps first", "fewest": "Fewest gaps first"}


@dataclasses.dataclass(frozen=True)
class Cell:
    user_led: int
    academic: int
    vcse: int
    partnerships: int
    subscribers: int

    @property
    def gaps(self) -> list[str]:
        """The gap kinds (keys of GAP_KINDS) this cell has."""
        out = []
        if not self.user_led:
            out.append("user_led")
        if not self.academic:
            out.append("academic")
        if not self.partnerships:
            out.append("partnership")
        if self.subscribers > self.vcse:
            out.append("demand")
        return out


@dataclasses.dataclass(frozen=True)
class Row:
    topic: Any
    cells: list[Cell]  # in the order of Grid.regions

    @property
    def gap_count(self) -> int:
        return sum(len(c.gaps) for c in self.cells)


@dataclasses.dataclass(frozen=True)
class Grid:
    regions: list[Any]
    rows: list[Row]
    sort: str

    def totals(self) -> dict[str, int]:
        """How many topic x region pairs have each kind of gap."""
        out = dict.fromkeys(GAP_KINDS, 0)
        for row in self.rows:
            for cell in row.cells:
                for kind in cell.gaps:
                    out[kind] += 1
        return out

    @property
    def pairs(self) -> int:
        return len(self.rows) * len(self.regions)


def _sources(session: Session, *, with_topic_count: bool = False) -> dict[str, dict[tuple[int, int], tuple[int, ...]]]:
    """The three sources grouped by (topic, region) in one UNION ALL statement, keyed "orgs", "partnerships" and
    "subscribers"; ``with_topic_count`` adds the number of topics under "topics" (for the summary's total)."""
    o, ot, r = m.Organisation, m.organisation_topics, m.Region
    in_a_region = r.code.in_(sorted(POPULATION))
    zero = literal(0)
    orgs = (
        select(
            literal("orgs").label("source"),
            ot.c.topic_id,
            o.region_id,
            func.count().filter(o.user_led.is_(True)),
            func.count().filter(o.kind == m.OrgKind.ACADEMIC),
            func.count().filter(o.kind == m.OrgKind.VCSE),
        )
        .join_from(o, ot, ot.c.organisation_id == o.id)
        .join(r, r.id == o.region_id)
        .where(org_scope(False), in_a_region)
        .group_by(ot.c.topic_id, o.region_id)
    )
    p, pm, pt = m.Partnership, m.PartnershipMember, m.partnership_topics
    partnerships = (
        select(literal("partnerships"), pt.c.topic_id, o.region_id, func.count(func.distinct(p.id)), zero, zero)
        .select_from(p)
        .join(pt, pt.c.partnership_id == p.id)
        .join(pm, pm.partnership_id == p.id)
        .join(o, o.id == pm.organisation_id)
        .join(r, r.id == o.region_id)
        .where(p.stage.in_(LIVE_STAGES), p.archived_at.is_(None), in_a_region)
        .group_by(pt.c.topic_id, o.region_id)
    )
    s, st, sr = m.Subscription, m.subscription_topics, m.subscription_regions
    subscribers = (
        select(literal("subscribers"), st.c.topic_id, sr.c.region_id, func.count(func.distinct(s.id)), zero, zero)
        .select_from(s)
        .join(st, st.c.subscription_id == s.id)
        .join(sr, sr.c.subscription_id == s.id)
        .join(r, r.id == sr.c.region_id)
        .where(s.status == m.SubscriptionStatus.ACTIVE, in_a_region)
        .group_by(st.c.topic_id, sr.c.region_id)
    )
    arms = [orgs, partnerships, subscribers]
    if with_topic_count:
        arms.append(select(literal("topics"), func.count(), zero, zero, zero, zero).select_from(m.Topic))
    out: dict[str, dict[tuple[int, int], tuple[int, ...]]] = {
        "orgs": {}, "partnerships": {}, "subscribers": {}, "topics": {}
    }  # fmt: skip
    for row in session.execute(union_all(*arms)):
        out[row[0]][(int(row[1]), int(row[2]))] = tuple(int(v or 0) for v in row[3:])
    return out


def _cell(sources: dict[str, dict[tuple[int, int], tuple[int, ...]]], key: tuple[int, int]) -> Cell:
    user_led, academic, vcse = sources["orgs"].get(key, (0, 0, 0))
    return Cell(
        user_led=user_led,
        academic=academic,
        vcse=vcse,
        partnerships=sources["partnerships"].get(key, (0,))[0],
        subscribers=sources["subscribers"].get(key, (0,))[0],
    )


def grid(session: Session, *, sort: str | None = None) -> Grid:
    """The whole grid, topics sorted by ``sort`` (a key of SORTS; anything else is A to Z). Two statements."""
    topics, regions = reference_rows(session)
    regions = [r for r in regions if r.code in POPULATION]
    sources = _sources(session)
    rows = [Row(topic, [_cell(sources, (topic.id, region.id)) for region in regions]) for topic in topics]
    sort = sort if sort in SORTS else "topic"
    if sort == "most":
        rows.sort(key=lambda r: (-r.gap_count, r.topic.name))
    elif sort == "fewest":
        rows.sort(key=lambda r: (r.gap_count, r.topic.name))
    return Grid(regions=regions, rows=rows, sort=sort)


def summary(session: Session) -> str:
    """One line for the impact report: how many topic x region pairs have each kind of gap. One statement: a pair
    missing from every source has the three "no ..." gaps, so only the pairs the sources name need looking at."""
    sources = _sources(session, with_topic_count=True)
    topics = next(iter(sources["topics"]), (0, 0))[0]  # that arm's one row is keyed (number of topics, 0)
    pairs = topics * len(POPULATION)
    if not pairs:
        return "No topics yet."
    named = set(sources["orgs"]) | set(sources["partnerships"]) | set(sources["subscribers"])
    t = dict.fromkeys(GAP_KINDS, 0)
    for key in named:
        for kind in _cell(sources, key).gaps:
            t[kind] += 1
    for kind in ("user_led", "academic", "partnership"):
        t[kind] += pairs - len(named)
    return (
        f"Of {pairs} topic and region pairs, {t['user_led']} have no user-led group, {t['academic']} no "
        f"academic partner, {t['partnership']} no live partnership, and {t['demand']} "
        f"{'has' if t['demand'] == 1 else 'have'} more subscribers than groups that could answer them."
    )


CSV_HEADER = [
    "topic",
    "region",
    "region_code",
    "user_led_groups",
    "academic_partners",
    "vcse_groups",
    "live_partnerships",
    "subscribers",
    "no_user_led_group",
    "no_academic_partner",
    "no_live_partnership",
    "subscribers_outnumber_groups",
]


def grid_csv(g: Grid) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows(_csv_rows(g))
    return buffer.getvalue()


def _csv_rows(g: Grid) -> Iterator[list[Any]]:
    yield CSV_HEADER
    for row in g.rows:
        for region, cell in zip(g.regions, row.cells, strict=True):
            gaps = cell.gaps
            yield [
                safe_cell(row.topic.name),
                region.name,
                region.code,
                cell.user_led,
                cell.academic,
                cell.vcse,
                cell.partnerships,
                cell.subscribers,
                *("yes" if kind in gaps else "no" for kind in GAP_KINDS),
            ]
