"""The Atom feed of open internships (``/internships/feed.xml``): rows as ``crm.feeds`` entries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from crm.feeds import Entry, Feed
from crm.feeds import atom_feed as write_feed
from crm.internships.services import stipend_label
from crm.timefmt import format_date

FEED = Feed(
    "Roundtable internships",
    "Open placements for early career researchers with VCSE organisations and for VCSE staff with academic teams.",
    "/internships",
)


def _entry(r: Any) -> Entry:
    summary = (
        f"{stipend_label(r)} · {r.mode.label} · closes {format_date(r.closing_date)}"
        + (f" · {r.region_name}" if r.region_name else "")
        + "\n\n"
        + (r.description or "")[:1000]
    )
    return Entry(
        title=f"{r.title} — {r.host_name}",
        path=f"/internships/{r.slug}",
        updated=r.updated_at,
        published=r.published_at or r.updated_at,
        summary=summary,
    )


def atom_feed(rows: Sequence[Any], *, base_url: str, now: dt.datetime) -> bytes:
    return write_feed(FEED, [_entry(r) for r in rows], base_url=base_url, now=now)
