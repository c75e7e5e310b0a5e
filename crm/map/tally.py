"""The map's stored tally (``map_tallies``): counted by the map's job, ``crm map refresh`` and the demo seeder;
read by the map pages, one primary-key statement per measure.

Why stored: at the million-row scale an exact count of the open funding calls or internships takes 0.2-0.7 s on
SQLite (docs/map.md), ten times a page's budget. Counting every few minutes in the background and storing the
result makes every map page a read of at most a few hundred small rows, whatever the data size. Figures that depend
on the time ("open", "upcoming") are right as of the refresh; the page says when that was.

A refresh counts every measure first (reads only), then replaces the rows of each in one short burst of writes,
so on SQLite the write lock is held for milliseconds, not for the seconds the counting takes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import delete, insert, literal, select, text, union_all
from sqlalchemy.orm import Session

from crm import models as m
from crm.db import is_postgres
from crm.map import counting
from crm.map.counting import EVERY_TOPIC, NO_REGION, Context, Row

REFRESH_MINUTES = 5  # how often the map's job counts again (crm/map/jobs.py); the pages say so
COUNTED = -1  # region id of a measure's own row: when it was counted, and how many rows it wrote


@dataclasses.dataclass(frozen=True)
class Counts:
    """A measure's figures: by region id, what counts in every region (or apart), and what has no region."""

    by_region: dict[int, int]
    national: int = 0
    unplaced: int = 0


@dataclasses.dataclass(frozen=True)
class Reading:
    counts: Counts
    as_of: dt.datetime | None  # when they were counted; None: never (no refresh has run yet)
    orgs_without_region: int  # in the audience's directory, as of the same refresh


@dataclasses.dataclass(frozen=True)
class Counted:
    """One measure's refresh, for the command's progress line and the job's log."""

    measure: str
    rows: int
    seconds: float


def refresh(
    session: Session,
    *,
    now: dt.datetime,
    measures: Iterable[str] | None = None,
    progress: Callable[[Counted], None] | None = None,
) -> list[Counted]:
    """Count ``measures`` (every one by default) as of ``now`` and replace their stored rows. One grouped statement
    per measure, one statement for the UK-wide region's id, one delete and one insert (and a table lock on
    PostgreSQL). The caller commits."""
    keys = list(counting.TALLIES) if measures is None else list(measures)
    unknown = [k for k in keys if k not in counting.TALLIES]
    if unknown:
        raise ValueError(f"no such map measure: {', '.join(unknown)} (known: {', '.join(counting.TALLIES)})")
    ctx = Context(now=now, uk_id=session.scalar(select(m.Region.id).where(m.Region.code == "UK")))
    counted: dict[str, list[Row]] = {}
    done: list[Counted] = []
    for key in keys:
        started = time.perf_counter()
        counted[key] = counting.TALLIES[key](session, ctx)
        done.append(Counted(key, len(counted[key]), time.perf_counter() - started))
        if progress is not None:
            progress(done[-1])
    _store(session, counted, now)
    return done


def _store(session: Session, counted: dict[str, list[Row]], now: dt.datetime) -> None:
    t = m.MapTally
    rows = [
        {
            "measure": key,
            "sub_key": sub_key,
            "topic_id": topic_id,
            "region_id": region_id,
            "count": n,
            "refreshed_at": now,
        }
        for key, found in counted.items()
        for sub_key, topic_id, region_id, n in found
    ]
    rows += [
        {"measure": key, "sub_key": "", "topic_id": EVERY_TOPIC, "region_id": COUNTED, "count": len(found),
         "refreshed_at": now}
        for key, found in counted.items()
    ]  # fmt: skip
    if is_postgres(session):
        # Two refreshes at once (the job and the command) take turns; readers are not blocked. On SQLite the
        # database's single writer does the same.
        session.execute(text("LOCK TABLE map_tallies IN EXCLUSIVE MODE"))
    session.execute(delete(t).where(t.measure.in_(list(counted))))
    session.execute(insert(t), rows)


def read(
    session: Session, measure: str, sub_key: str, topic_id: int | None, uk_id: int | None, *, public: bool
) -> Reading:
    """One measure's stored figures for one topic (None: every topic), when they were counted, and how many
    organisations have no region: one statement of three primary-key lookups (the figures; the measure's own row,
    there even when nothing was counted; the organisations' "no region" figure for the audience)."""
    t = m.MapTally

    def part(name: str) -> Any:
        return select(literal(name).label("part"), t.region_id, t.count, t.refreshed_at)

    figures = part("figures").where(
        t.measure == measure,
        t.sub_key == sub_key,
        t.topic_id == (topic_id or EVERY_TOPIC),
        t.region_id >= NO_REGION,
    )
    stamp = part("stamp").where(
        t.measure == measure, t.sub_key == "", t.topic_id == EVERY_TOPIC, t.region_id == COUNTED
    )
    orgs = part("orgs").where(
        t.measure == counting.tally_name(counting.ORGANISATIONS, public),
        t.sub_key == counting.ALL_ORGANISATIONS,
        t.topic_id == EVERY_TOPIC,
        t.region_id == NO_REGION,
    )
    by_region: dict[int, int] = {}
    national = unplaced = orgs_without_region = 0
    as_of: dt.datetime | None = None
    for name, region_id, n, refreshed_at in session.execute(union_all(figures, stamp, orgs)):
        if name == "orgs":
            orgs_without_region = n
        elif name == "stamp":
            as_of = refreshed_at
        elif region_id == NO_REGION:
            unplaced = n
        elif region_id == uk_id:
            national = n
        else:
            by_region[region_id] = n
    return Reading(Counts(by_region, national, unplaced), as_of, orgs_without_region)
