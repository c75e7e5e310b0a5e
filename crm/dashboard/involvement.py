"""Involvement figures for the dashboard and the impact report (issue 18): hours, payments and expenses from the
record of involvement by quarter, and the groups consulted by category and region.

Definitions (also in docs/involvement.md):

- a record counts in the period its ``took_part_on`` date falls in (Europe/London dates, inclusive);
- a group was consulted in a period when it answered "yes" to a consultation request then (``answered_at``), or a
  record of involvement names it as the organisation that took part then. Each group counts once per period, under
  its directory category and region ("No category" / "No region" when it has none).

Each function is one statement whatever the data size; the dashboard's and the report's statement counts stay flat.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import String, case, cast, extract, func, literal, select, union
from sqlalchemy.orm import Session

from crm import models as m
from crm.directory.taxonomy import CATEGORY_LABELS
from crm.involvement.rules import format_pence
from crm.timefmt import LONDON

R = m.InvolvementRecord
QUARTERS_SHOWN = 4


@dataclasses.dataclass(frozen=True)
class Quarter:
    start: dt.date
    records: int = 0
    minutes: int = 0
    payment_pence: int = 0
    expenses_pence: int = 0

    @property
    def label(self) -> str:
        return f"{self.start.year} Q{(self.start.month - 1) // 3 + 1} ({self.start:%b}–{self.end:%b})"

    @property
    def end(self) -> dt.date:
        year, month = (self.start.year + 1, 1) if self.start.month == 10 else (self.start.year, self.start.month + 3)
        return dt.date(year, month, 1) - dt.timedelta(days=1)

    @property
    def hours(self) -> float:
        return round(self.minutes / 60, 1)

    @property
    def paid(self) -> str:
        return format_pence(self.payment_pence)

    @property
    def expenses(self) -> str:
        return format_pence(self.expenses_pence)


def quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def _previous_quarter(start: dt.date) -> dt.date:
    return dt.date(start.year - 1, 10, 1) if start.month == 1 else dt.date(start.year, start.month - 3, 1)


def by_quarter(session: Session, now: dt.datetime, count: int = QUARTERS_SHOWN) -> list[Quarter]:
    """The last ``count`` quarters (this one last), zero-filled; one statement grouped by year and month."""
    starts = [quarter_start(now.astimezone(LONDON).date())]
    for _ in range(count - 1):
        starts.insert(0, _previous_quarter(starts[0]))
    year, month = extract("year", R.took_part_on), extract("month", R.took_part_on)
    rows = session.execute(
        select(
            year.label("y"),
            month.label("m"),
            func.count(R.id),
            func.coalesce(func.sum(R.minutes), 0),
            func.coalesce(func.sum(R.payment_pence), 0),
            func.coalesce(func.sum(R.expenses_pence), 0),
        )
        .where(R.took_part_on >= starts[0])
        .group_by(year, month)
    ).all()
    totals: dict[dt.date, list[int]] = {s: [0, 0, 0, 0] for s in starts}
    for y, mo, *values in rows:
        key = quarter_start(dt.date(int(y), int(mo), 1))
        if key in totals:
            totals[key] = [a + int(b or 0) for a, b in zip(totals[key], values, strict=True)]
    return [Quarter(s, *totals[s]) for s in starts]


@dataclasses.dataclass(frozen=True)
class GroupsConsulted:
    by_category: dict[str, int]
    by_region: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_category.values())


def groups_consulted(session: Session, since: dt.datetime, until: dt.datetime) -> GroupsConsulted:
    """Distinct groups consulted in ``[since, until)`` by category and by region; one statement grouped by both
    (each group has one category and one region, so summing the pairs counts each group once)."""
    cr, o, r = m.ConsultationRecipient, m.Organisation, m.Region
    first, last = since.astimezone(LONDON).date(), (until - dt.timedelta(microseconds=1)).astimezone(LONDON).date()
    answered_yes = select(cr.organisation_id.label("org_id")).where(
        cr.answer == m.ConsultationAnswer.YES, cr.answered_at >= since, cr.answered_at < until
    )
    took_part = select(R.organisation_id.label("org_id")).where(
        R.organisation_id.is_not(None), R.took_part_on >= first, R.took_part_on <= last
    )
    consulted = union(answered_yes, took_part).subquery()
    rows = session.execute(
        select(o.vcse_category, r.name, r.position, func.count(func.distinct(o.id)))
        .select_from(o)
        .join(consulted, consulted.c.org_id == o.id)
        .outerjoin(r, r.id == o.region_id)
        .group_by(o.vcse_category, r.name, r.position)
    ).all()
    by_category: dict[str, int] = {label: 0 for label in CATEGORY_LABELS.values()}
    regions: dict[tuple[int, str], int] = {}
    for category, region, position, n in rows:
        label = CATEGORY_LABELS.get(m.VcseCategory(category), "No category") if category else "No category"
        by_category[label] = by_category.get(label, 0) + int(n)
        key = (position if position is not None else 10_000, region or "No region")
        regions[key] = regions.get(key, 0) + int(n)
    return GroupsConsulted(by_category=by_category, by_region={name: n for (_, name), n in sorted(regions.items())})


@dataclasses.dataclass(frozen=True)
class PeriodFigures:
    """What the impact report says about involvement in its period (one statement)."""

    records: int
    minutes: int
    payment_pence: int
    expenses_pence: int
    people: int  # distinct network members and named people who took part
    opportunities_published: int
    interests: int
    consultations_sent: int

    @property
    def hours(self) -> float:
        return round(self.minutes / 60, 1)

    @property
    def paid(self) -> str:
        return format_pence(self.payment_pence)

    @property
    def expenses(self) -> str:
        return format_pence(self.expenses_pence)


def period_figures(session: Session, since: dt.datetime, until: dt.datetime) -> PeriodFigures:
    first, last = since.astimezone(LONDON).date(), (until - dt.timedelta(microseconds=1)).astimezone(LONDON).date()
    in_period = (R.took_part_on >= first) & (R.took_part_on <= last)
    # A network member once however their name is written; anyone else by the name recorded (none when anonymous).
    person = case(
        (R.member_id.is_not(None), literal("member:", String) + cast(R.member_id, String)),
        else_=func.nullif(R.person_name, ""),
    )
    opp, ii, rq = m.InvolvementOpportunity, m.InvolvementInterest, m.ConsultationRequest

    def scalar(query: Any) -> Any:
        return query.scalar_subquery()

    row = session.execute(
        select(
            scalar(select(func.count(R.id)).where(in_period)),
            scalar(select(func.coalesce(func.sum(R.minutes), 0)).where(in_period)),
            scalar(select(func.coalesce(func.sum(R.payment_pence), 0)).where(in_period)),
            scalar(select(func.coalesce(func.sum(R.expenses_pence), 0)).where(in_period)),
            scalar(select(func.count(func.distinct(person))).where(in_period)),
            scalar(select(func.count(opp.id)).where(opp.published_at >= since, opp.published_at < until)),
            scalar(select(func.count(ii.id)).where(ii.created_at >= since, ii.created_at < until)),
            scalar(select(func.count(rq.id)).where(rq.sent_at >= since, rq.sent_at < until)),
        )
    ).one()
    return PeriodFigures(*(int(v or 0) for v in row))
