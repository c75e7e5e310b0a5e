""" "Add to Google Calendar" and "Outlook.com" links for an event, beside the .ics download.

Most people use a web calendar; these links open its "new event" page already filled in, without an account here.
The formats are the ones those services document for add-event links: Google's ``render?action=TEMPLATE`` with
``dates=start/end`` in UTC (all-day: ``YYYYMMDD/YYYYMMDD``, end exclusive) and Outlook's compose deep link with ISO
times.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from urllib.parse import quote_plus, urlencode

from crm import models as m
from crm.timefmt import LONDON

DETAILS_LIMIT = 1000  # the links carry the description; browsers and the services cap URLs at a few kB


@dataclasses.dataclass(frozen=True, slots=True)
class CalendarLinks:
    google: str
    outlook: str


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _london_day(value: dt.datetime) -> dt.date:
    return value.astimezone(LONDON).date()


def links_for(event: m.Event, *, event_url: str, location: str) -> CalendarLinks:
    details = "\n\n".join(p for p in ((event.description or "")[:DETAILS_LIMIT], event_url) if p)
    if event.all_day:
        start_day, end_day = _london_day(event.starts_at), _london_day(event.ends_at)  # end exclusive, as stored
        dates = f"{start_day:%Y%m%d}/{end_day:%Y%m%d}"
        outlook_times = {"startdt": start_day.isoformat(), "enddt": end_day.isoformat(), "allday": "true"}
    else:
        dates = f"{_utc(event.starts_at)}/{_utc(event.ends_at)}"
        outlook_times = {
            "startdt": event.starts_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "enddt": event.ends_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        }
    google = "https://calendar.google.com/calendar/render?" + urlencode(
        {"action": "TEMPLATE", "text": event.title, "dates": dates, "details": details, "location": location},
        quote_via=quote_plus,
    )
    outlook = "https://outlook.live.com/calendar/0/deeplink/compose?" + urlencode(
        {
            "path": "/calendar/action/compose",
            "rru": "addevent",
            "subject": event.title,
            "body": details,
            "location": location,
            **outlook_times,
        },
        quote_via=quote_plus,
    )
    return CalendarLinks(google=google, outlook=outlook)


def map_link(venue: str) -> str:
    """A map search for the venue's address (OpenStreetMap: no account, no tracking script)."""
    return "https://www.openstreetmap.org/search?" + urlencode({"query": venue}, quote_via=quote_plus)
