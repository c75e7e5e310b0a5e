"""Digest periods and when they are due, in Europe/London wall-clock time.

- Weekly: the ISO week, ``2026-W48``, due on its Monday at 08:00 London time (07:00Z in summer, 08:00Z in winter).
- Monthly: the month, ``2026-12``, due on the month's first Monday at 08:00 London time.

The due instant is also the period's **cut-off**: items published after it wait for the next period. After
downtime only the latest due period is run, and a period more than ``MAX_LATENESS`` late is skipped.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
SEND_AT = dt.time(8, 0)
MAX_LATENESS = dt.timedelta(days=3)
WEEKLY = "weekly"
MONTHLY = "monthly"

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class PeriodError(ValueError):
    pass


@dataclasses.dataclass(frozen=True, slots=True)
class Period:
    key: str  # "2026-W48" or "2026-12"
    frequency: str  # weekly | monthly
    due_at: dt.datetime  # UTC; also the cut-off for items

    @property
    def cutoff(self) -> dt.datetime:
        return self.due_at

    def label(self) -> str:
        """What the digest says it is for, after "for the" (``email/digest.*``): "week of 7 December 2026", "month of
        December 2026" (a bare month read "for the December 2026")."""
        local = self.due_at.astimezone(LONDON)
        if self.frequency == WEEKLY:
            return f"week of {local.day} {local:%B %Y}"
        return f"month of {local:%B %Y}"

    @property
    def starts_at(self) -> dt.datetime:
        """The previous period's cut-off: what was published after it and up to this cut-off is this period's
        news (``crm.digests.sections.news``)."""
        return self.previous().due_at

    def is_too_late(self, now: dt.datetime) -> bool:
        return now - self.due_at > MAX_LATENESS

    def next(self) -> Period:
        if self.frequency == WEEKLY:
            return weekly_period((self.due_at.astimezone(LONDON) + dt.timedelta(days=7)).date())
        local = self.due_at.astimezone(LONDON).date()
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        return monthly_period(year, month)

    def previous(self) -> Period:
        if self.frequency == WEEKLY:
            return weekly_period((self.due_at.astimezone(LONDON) - dt.timedelta(days=7)).date())
        local = self.due_at.astimezone(LONDON).date()
        year, month = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
        return monthly_period(year, month)


def _london_instant(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, SEND_AT, tzinfo=LONDON).astimezone(dt.UTC)


def weekly_period(day: dt.date) -> Period:
    """The weekly period containing ``day`` (ISO week)."""
    year, week, _ = day.isocalendar()
    monday = dt.date.fromisocalendar(year, week, 1)
    return Period(f"{year}-W{week:02d}", WEEKLY, _london_instant(monday))


def first_monday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(7 - first.weekday()) % 7)


def monthly_period(year: int, month: int) -> Period:
    return Period(f"{year}-{month:02d}", MONTHLY, _london_instant(first_monday(year, month)))


def frequency_of(key: str) -> str:
    """The frequency a period key names: ``2026-W48`` weekly, ``2026-12`` monthly."""
    return WEEKLY if _WEEK.match(key) else MONTHLY


def parse(key: str) -> Period:
    """``2026-W48`` → weekly, ``2026-12`` → monthly; a clear ``PeriodError`` otherwise."""
    key = (key or "").strip()
    if match := _WEEK.match(key):
        year, week = int(match[1]), int(match[2])
        try:
            monday = dt.date.fromisocalendar(year, week, 1)
        except ValueError as exc:
            raise PeriodError(f"{key!r}: {year} has no ISO week {week}") from exc
        return weekly_period(monday)
    if match := _MONTH.match(key):
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            raise PeriodError(f"{key!r}: the month must be 01 to 12")
        return monthly_period(year, month)
    raise PeriodError(f"{key!r} is not a period: use an ISO week like 2026-W48 or a month like 2026-12")


def latest_due(frequency: str, now: dt.datetime) -> Period:
    """The most recent period of ``frequency`` whose due instant is at or before ``now``."""
    local = now.astimezone(LONDON).date()
    if frequency == WEEKLY:
        period = weekly_period(local)
        return period if period.due_at <= now else weekly_period(local - dt.timedelta(days=7))
    period = monthly_period(local.year, local.month)
    if period.due_at <= now:
        return period
    year, month = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
    return monthly_period(year, month)


def due_periods(now: dt.datetime) -> list[Period]:
    """What should run now: per frequency, only the latest due period, unless it is more than 3 days late."""
    return [p for p in (latest_due(WEEKLY, now), latest_due(MONTHLY, now)) if not p.is_too_late(now)]
