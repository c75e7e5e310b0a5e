"""The Atom feed of published news (``/news/feed.xml``): news items as ``crm.feeds`` entries, newest first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from crm.campaigns.news import NewsRow, news_path
from crm.feeds import Entry, Feed, atom_feed

FEED = Feed(
    "Roundtable news",
    "News and announcements from the Roundtable fellow for mental-health charities, community groups and "
    "researchers, newest first.",
    "/news",
)


def _entry(row: NewsRow) -> Entry:
    # A sent campaign never changes, so its publication is also its last update.
    return Entry(
        title=row.subject,
        path=news_path(row.slug),
        updated=row.published_at,
        published=row.published_at,
        summary=row.summary,
    )


def news_feed(rows: Sequence[NewsRow], *, base_url: str, now: dt.datetime) -> bytes:
    return atom_feed(FEED, [_entry(r) for r in rows], base_url=base_url, now=now)
