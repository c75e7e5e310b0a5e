"""The "Upcoming events" section: published networking events starting in the next 8 weeks.

Events carry no topics or regions, so every subscriber to event news sees the same upcoming events (minus
what they were already sent or hid). One statement per run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from crm import models as m
from crm.digests.sections.base import Catalogue, Item, Section, SubscriberView, clip
from crm.timefmt import format_datetime

HORIZON = dt.timedelta(weeks=8)


class EventItem(Item):
    __slots__ = ("host", "id", "place", "published_at", "title", "url", "when")


def load_events(cat: Catalogue) -> list[EventItem]:
    E = m.Event
    rows = cat.session.execute(
        select(
            E.id,
            E.title,
            E.slug,
            E.starts_at,
            E.all_day,
            E.venue,
            E.online_url,
            E.published_at,
            m.Organisation.name.label("host_name"),
        )
        .join(m.Organisation, m.Organisation.id == E.host_organisation_id, isouter=True)
        .where(E.status == m.EventStatus.PUBLISHED, E.starts_at > cat.now, E.starts_at <= cat.now + HORIZON)
        .order_by(E.starts_at, E.id)
    ).all()
    base = cat.base_url
    return [
        EventItem(
            id=r.id,
            title=clip(r.title, 200) or "Untitled event",
            host=clip(r.host_name, 120),
            when=format_datetime(r.starts_at, "%a %-d %b %Y") if r.all_day else format_datetime(r.starts_at),
            place=clip(r.venue, 120) or ("Online" if r.online_url else ""),
            published_at=r.published_at,
            url=f"{base}/events/{r.slug}",
        )
        for r in rows
    ]


class UpcomingEvents(Section):
    key = "events"
    title = "Upcoming events"
    item_kind = "event"
    ledger_kind = "event"
    mailing = "event_news"
    limit = 2
    more_url = "/events"
    source = ("events", load_events)

    def cache_key(self, sub: SubscriberView) -> Any:
        return ()  # every subscriber to event news sees the same upcoming events

    def candidates(self, catalogue: Catalogue, sub: SubscriberView) -> Iterable[Any]:
        return self.open_items(catalogue)
