"""The map's figures for one measure and topic: twelve tiles with a count, a rate per 100,000 people and a colour
band, what counts everywhere or apart, and how many organisations have no region.

Two statements whatever the data size: the reference rows (topics and regions, in one UNION ALL) and the measure's
stored figures with the number of organisations without a region (``crm.map.tally``, counted by the map's job), so
no map page counts anything: every figure on it is as of the same refresh.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import literal, select, union_all
from sqlalchemy.orm import Session

from crm import models as m
from crm.map import measures, tally
from crm.map.measures import Measure
from crm.map.population import POPULATION, RELEASE, YEAR, per_100k
from crm.timefmt import format_datetime, to_local

SCALES = {"rate": "Per 100,000 people", "count": "Count"}
BANDS = 4  # colour bands above "none"


@dataclasses.dataclass(frozen=True)
class Tile:
    code: str
    name: str
    slug: str
    count: int
    rate: float | None
    band: int  # 0 (none) .. BANDS
    link: str | None


@dataclasses.dataclass(frozen=True)
class Band:
    band: int
    label: str  # "1.5 to 3.0 per 100,000"


@dataclasses.dataclass(frozen=True)
class MapView:
    measure: Measure
    measures: list[Measure]
    scale: str
    topics: list[Any]
    topic: Any | None
    tiles: list[Tile]
    national: int
    unplaced: int
    orgs_without_region: int
    legend: list[Band]
    admin: bool
    as_of: dt.datetime | None  # when the figures were counted (crm.map.tally); None: not yet
    now: dt.datetime
    source: str = RELEASE
    year: str = YEAR

    @property
    def total_in_tiles(self) -> int:
        return sum(t.count for t in self.tiles)

    @property
    def counted(self) -> str:
        """When the figures were counted, in words: the time alone today, with the date on another day."""
        every = f"they are counted every {tally.REFRESH_MINUTES} minutes"
        if self.as_of is None:
            how = " (or at once with crm map refresh)" if self.admin else ""
            return f"These figures have not been counted yet: {every}{how}."
        local, today = to_local(self.as_of), to_local(self.now)
        same_day = local is not None and today is not None and local.date() == today.date()
        when = format_datetime(self.as_of, "%H:%M") if same_day else format_datetime(self.as_of)
        return f"Figures as of {when}: {every}."

    @property
    def groups(self) -> dict[str, list[Measure]]:
        """The measures by group, for the select's optgroups."""
        out: dict[str, list[Measure]] = {}
        for measure in self.measures:
            out.setdefault(measure.group, []).append(measure)
        return out


def reference_rows(session: Session) -> tuple[list[Any], list[Any]]:
    """Topics (by name) and regions (display order, with codes): one statement."""
    topics = select(
        literal("topic").label("kind"),
        m.Topic.id,
        m.Topic.slug,
        m.Topic.name,
        literal("").label("code"),
        literal(0).label("pos"),
    )
    regions = select(literal("region"), m.Region.id, m.Region.slug, m.Region.name, m.Region.code, m.Region.position)
    rows = list(session.execute(union_all(topics, regions)))
    return (
        sorted((r for r in rows if r.kind == "topic"), key=lambda r: r.name),
        sorted((r for r in rows if r.kind == "region"), key=lambda r: (r.pos, r.name)),
    )


def rate_text(rate: float | None) -> str:
    """One decimal place; two below 0.1, so a handful of groups in a big region does not read as none. The shading
    and the legend use this same rounding (``shown``), so a figure always falls inside the band its shade names."""
    if rate is None:
        return ""
    if 0 < rate < 0.1:
        return f"{rate:.2f}"
    return f"{rate:,.1f}"


def shown(rate: float) -> Decimal:
    """The rate exactly as the page prints it: what the shading compares, so the legend cannot contradict a tile."""
    return Decimal(rate_text(rate).replace(",", ""))


def rate_edges(biggest: float) -> list[Decimal]:
    """The five edges of the rate bands (0, then equal steps up to the biggest figure), each rounded as the page
    prints figures: bands drawn from unrounded edges put a region shown as "0.09" in "more than 0.1"."""
    top = shown(biggest)
    return [Decimal(0)] + [shown(float(top) * band / BANDS) for band in range(1, BANDS)] + [top]


def rate_band(rate: float | None, edges: Sequence[Decimal]) -> int:
    """The band whose edges hold the printed rate: more than its lower edge, up to its upper one."""
    value = shown(rate or 0.0)
    if value <= 0:
        return 0
    return next((band for band in range(1, BANDS + 1) if edges[band - 1] < value <= edges[band]), BANDS)


def band_of(value: float, biggest: float) -> int:
    """0 for nothing, else 1..BANDS by equal steps up to the biggest value."""
    if value <= 0 or biggest <= 0:
        return 0
    return max(1, min(BANDS, math.ceil(BANDS * value / biggest - 1e-9)))


def legend(biggest: float, scale: str) -> list[Band]:
    """What each colour band means, in numbers (bands no figure can fall in are left out)."""
    if biggest <= 0:
        return [Band(0, "None")]
    return [Band(0, "None"), *(_count_bands(biggest) if scale == "count" else _rate_bands(biggest))]


def _count_bands(biggest: float) -> list[Band]:
    out = []
    for band in range(1, BANDS + 1):
        first, last = math.floor(biggest * (band - 1) / BANDS) + 1, math.floor(biggest * band / BANDS + 1e-9)
        if first <= last:
            out.append(Band(band, f"{first:,}" if first == last else f"{first:,} to {last:,}"))
    return out


def _rate_bands(biggest: float) -> list[Band]:
    edges = rate_edges(biggest)
    return [
        Band(band, f"more than {rate_text(float(low))} up to {rate_text(float(high))} per 100,000")
        for band, low, high in zip(range(1, BANDS + 1), edges[:-1], edges[1:], strict=True)
        if low < high  # rounding can close a band: no printed figure falls in it
    ]


def map_view(session: Session, query: Mapping[str, Any], *, admin: bool, now: dt.datetime) -> MapView:
    """The map for ``measure``, ``topic`` (a slug) and ``scale`` from the query string; unknown values fall back to
    the defaults (they come from select menus)."""
    public = not admin
    measure = measures.pick(query.get("measure"), admin)
    scale = query.get("scale") if query.get("scale") in SCALES else "rate"
    topics, regions = reference_rows(session)
    topic = next((t for t in topics if t.slug == query.get("topic")), None)
    uk_id = next((r.id for r in regions if r.code == "UK"), None)
    topic_id = topic.id if topic else None
    stored, sub_key = measure.source(public)
    reading = tally.read(session, stored, sub_key, topic_id, uk_id, public=public)
    counts = reading.counts
    everywhere = counts.national if measure.national_everywhere else 0
    raw = [(r, counts.by_region.get(r.id, 0) + everywhere) for r in regions if r.code in POPULATION]
    values = [(n if scale == "count" else per_100k(n, r.code) or 0.0) for r, n in raw]
    biggest = max(values, default=0)
    edges = rate_edges(biggest) if scale == "rate" else []
    topic_slug = topic.slug if topic else ""
    tiles = [
        Tile(
            code=r.code,
            name=r.name,
            slug=r.slug,
            count=n,
            rate=per_100k(n, r.code),
            band=band_of(value, biggest) if scale == "count" else rate_band(value, edges),
            link=measure.link(r.slug, topic_slug, admin),
        )
        for (r, n), value in zip(raw, values, strict=True)
    ]
    return MapView(
        measure=measure,
        measures=measures.available(admin),
        scale=scale,
        topics=topics,
        topic=topic,
        tiles=tiles,
        national=counts.national,
        unplaced=counts.unplaced,
        orgs_without_region=reading.orgs_without_region,
        legend=legend(biggest, scale),
        admin=admin,
        as_of=reading.as_of,
        now=now,
    )
