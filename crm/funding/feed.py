"""The Atom feed of open funding calls (``/funding-calls/feed.xml``), for feed readers and partners' sites."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from crm.feeds import Entry, Feed, atom_feed
from crm.funding import fit
from crm.funding.labels import amount_label
from crm.timefmt import format_datetime

FEED = Feed(
    "Roundtable funding calls",
    "Open funding calls for mental-health research and community projects, newest first.",
    "/funding-calls",
)


def _entry(r: Any) -> Entry:
    facts = [f"Funder: {r.funder_name}"]
    if r.next_deadline_at is not None:
        facts.append(f"next deadline {format_datetime(r.next_deadline_at)} (UK time)")
    if amount := amount_label(r.amount_min, r.amount_max):
        facts.append(amount)
    if r.requires_vcse_partner:
        facts.append("needs a VCSE partner")
    if fit.call_suits(r):
        facts.append(fit.SUITS_LABEL.lower())
    return Entry(
        title=f"{r.title} — {r.funder_name}",
        path=f"/funding-calls/{r.slug}",
        updated=r.updated_at,
        published=r.published_at or r.updated_at,
        summary=" · ".join(facts) + ("\n\n" + r.summary[:1000] if r.summary else ""),
    )


def calls_feed(rows: Sequence[Any], *, base_url: str, now: dt.datetime) -> bytes:
    return atom_feed(FEED, [_entry(r) for r in rows], base_url=base_url, now=now)
