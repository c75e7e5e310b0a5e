"""Display times in Europe/London (stored in UTC everywhere)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def to_local(value: dt.datetime | None, tz: str = "Europe/London") -> dt.datetime | None:
    if value is None:
        return None
    zone = LONDON if tz == "Europe/London" else ZoneInfo(tz)
    return value.astimezone(zone)


def format_datetime(value: dt.datetime | None, fmt: str = "%a %-d %b %Y, %H:%M") -> str:
    local = to_local(value)
    return "" if local is None else local.strftime(fmt)


def format_date(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = to_local(value).date()  # type: ignore[union-attr]
    return value.strftime("%-d %B %Y")


def local_input(value: dt.datetime | None) -> str:
    """The value of an ``<input type="datetime-local">`` (every date-and-time field): Europe/London, minutes."""
    return "" if value is None else value.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M")


def parse_local(raw: str) -> dt.datetime | None:
    """What a ``datetime-local`` field (or a person typing ``2026-06-01 09:30``) sent, read in Europe/London unless
    it names an offset → aware UTC; ``None`` when it is not a date and time."""
    raw = (raw or "").strip().replace(" ", "T", 1)
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=LONDON)
    return value.astimezone(dt.UTC)
