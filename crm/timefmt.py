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
