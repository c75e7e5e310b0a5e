"""Where the gaps are: a topic x region grid for the fellow (``/admin/map/gaps``), its CSV and its summary line in
the impact report.

A cell (topic, region) marks, from the organisations, partnerships and subscriptions tagged with that topic in that
region (UK-wide ones are not counted in a region: they do not say where they work):

- **no user-led group**: no approved organisation led by service users;
- **no academic partner**: no approved university or research group;
- **no live partnership**: no partnership from idea to active with a member organisation there;
- **demand outnumbers groups**: more active subscribers who chose both the topic and the region than charities
  and community groups (VCSE organisations) that could answer them.

Four statements whatever the data size: the reference rows and one grouped query per source.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.directory.export import safe_cell
from crm.map.figures import reference_rows
from crm.map.measures import LIVE_STAGES, org_scope
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


def _pairs(session: Session, query: Any) -> dict[tuple[int, int], tuple[int, ...]]:
    return {(int(r[0]), int(r[1])): tuple(int(v or 0) for v in r[2:]) for r in session.execute(query)}


def grid(session: Session, *, sort: str | None = None) -> Grid:
    """The whole grid, topics sorted by ``sort`` (a key of SORTS; anything else is A to Z)."""
    topics, regions, _ = reference_rows(session, public=False)
    regions = [r for r in regions if r.code in POPULATION]
    o, ot = m.Organisation, m.organisation_topics
    orgs = _pairs(
        session,
        select(
            ot.c.topic_id,
            o.region_id,
            func.count().filter(o.user_led.is_(True)),
            func.count().filter(o.kind == m.OrgKind.ACADEMIC),
            func.count().filter(o.kind == m.OrgKind.VCSE),
        )
        .join_from(o, ot, ot.c.organisation_id == o.id)
        .where(org_scope(False), o.region_id.is_not(None))
        .group_by(ot.c.topic_id, o.region_id),
    )
    p, pm, pt = m.Partnership, m.PartnershipMember, m.partnership_topics
    partnerships = _pairs(
        session,
        select(pt.c.topic_id, o.region_id, func.count(func.distinct(p.id)))
        .select_from(p)
        .join(pt, pt.c.partnership_id == p.id)
        .join(pm, pm.partnership_id == p.id)
        .join(o, o.id == pm.organisation_id)
        .where(p.stage.in_(LIVE_STAGES), o.region_id.is_not(None))
        .group_by(pt.c.topic_id, o.region_id),
    )
    s, st, sr = m.Subscription, m.subscription_topics, m.subscription_regions
    subscribers = _pairs(
        session,
        select(st.c.topic_id, sr.c.region_id, func.count(func.distinct(s.id)))
        .select_from(s)
        .join(st, st.c.subscription_id == s.id)
        .join(sr, sr.c.subscription_id == s.id)
        .where(s.status == m.SubscriptionStatus.ACTIVE)
        .group_by(st.c.topic_id, sr.c.region_id),
    )
    rows = []
    for topic in topics:
        cells = []
        for region in regions:
            key = (topic.id, region.id)
            user_led, academic, vcse = orgs.get(key, (0, 0, 0))
            cells.append(
                Cell(
                    user_led=user_led,
                    academic=academic,
                    vcse=vcse,
                    partnerships=partnerships.get(key, (0,))[0],
                    subscribers=subscribers.get(key, (0,))[0],
                )
            )
        rows.append(Row(topic, cells))
    sort = sort if sort in SORTS else "topic"
    if sort == "most":
        rows.sort(key=lambda r: (-r.gap_count, r.topic.name))
    elif sort == "fewest":
        rows.sort(key=lambda r: (r.gap_count, r.topic.name))
    return Grid(regions=regions, rows=rows, sort=sort)


def summary(session: Session) -> str:
    """One line for the impact report: how many topic x region pairs have each kind of gap."""
    g = grid(session)
    if not g.pairs:
        return "No topics or regions yet."
    t = g.totals()
    return (
        f"Of {g.pairs} topic and region pairs, {t['user_led']} have no user-led group, {t['academic']} no "
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
