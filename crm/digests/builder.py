"""Choosing a subscriber's digest: which items of which sections, in memory, against the run's catalogue.

Pure Python (no SQL): the engine hands in a ``SubscriberView`` with its ledger and hidden items already loaded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

from crm.digests.sections import SECTIONS, SELECTION_ORDER, Catalogue, SubscriberView

# A digest stays short (and under SendGrid's 10,000-byte substitution limit per personalization, so 1,000
# digests go in one request): at most this many items; the rest wait for the next digest, and it says so.
MAX_ITEMS = 7
# SendGrid's substitution limit per personalization is 10,000 bytes (text + HTML, JSON-escaped). A digest's
# shell, greeting and compliance footer take about BASE_BYTES (+ SECTION_BYTES per section heading, + the
# address, which appears base64-encoded in the digest's token in three footer links, twice, and in each item's
# "not relevant" link, twice); items are added while they fit.
SUBSTITUTION_BUDGET = 9_600
BASE_BYTES = 2_950
SECTION_BYTES = 320
MORE_CAP = 10


@dataclasses.dataclass(slots=True)
class Selection:
    sections: list[list[Any]]  # [[section key, [item ids], number of further matches]] in display order
    ledger: list[tuple[str, int]]  # (ledger kind, item id) to record when the digest is queued

    @property
    def empty(self) -> bool:
        return not self.ledger


def select_items(
    catalogue: Catalogue,
    sub: SubscriberView,
    cutoff: dt.datetime,
    size_of: Callable[[Any, Any], int] | None = None,
) -> Selection:
    """Pick the items of one digest. ``size_of(section, item)`` (bytes) keeps the digest within the budget;
    items that do not fit (or exceed a section's limit) are counted as "more" and wait for the next digest."""
    chosen: dict[str, tuple[list[int], int]] = {}
    used = BASE_BYTES + 8 * len(sub.email) + 2 * len(sub.name)
    per_item = 3 * len(sub.email)  # the token in the item's "not relevant" link, text and HTML (2 x 4/3)
    taken: dict[str, set[int]] = {}  # item kind -> ids already in this digest (new and closing-soon calls)
    ledger: list[tuple[str, int]] = []
    total = 0
    sent, hidden = sub.sent, sub.hidden
    for section in SELECTION_ORDER:
        if section.mailing not in sub.mailings:
            continue
        ids: list[int] = []
        more = 0
        kind = section.item_kind
        late = _late(catalogue, section, cutoff)  # published after the period's cut-off: wait for the next period
        already = sent.get(section.ledger_kind, _NONE)
        unwanted = hidden.get(kind, _NONE)
        taken_ids = taken.setdefault(kind, set())
        limit = section.limit
        for item in _candidates(catalogue, section, sub):
            item_id = item.id
            if item_id in late or item_id in already or item_id in unwanted or item_id in taken_ids:
                continue
            if len(ids) < limit and total < MAX_ITEMS:
                cost = size_of(section, item) + per_item + (0 if ids else SECTION_BYTES) if size_of is not None else 0
                if used + cost <= SUBSTITUTION_BUDGET:
                    used += cost
                    ids.append(item_id)
                    taken_ids.add(item_id)
                    total += 1
                    for k in section.ledger_kinds():
                        ledger.append((k, item_id))
                    continue
            more += 1
            if more >= MORE_CAP:
                break  # "10 or more": no need to look further
        if ids:
            chosen[section.key] = (ids, more)
    sections = [[s.key, chosen[s.key][0], chosen[s.key][1]] for s in SECTIONS if s.key in chosen]
    return Selection(sections=sections, ledger=ledger)


_NONE: frozenset[int] = frozenset()
PREFIX = 24  # candidates kept per distinct filter set; more are computed only when exclusions use them up
CACHE_LIMIT = 20_000  # distinct filter sets remembered per run (cleared when full: memory stays flat)


def _late(catalogue: Catalogue, section: Any, cutoff: dt.datetime) -> frozenset[int]:
    """Ids of the section's items published after the cut-off (or never), once per run: an int look-up per
    candidate instead of comparing two aware datetimes (~0.4 us each, tens per digest)."""
    key = ("late", section.key, cutoff)
    late = catalogue.match_cache.get(key)
    if late is None:
        late = frozenset(
            item.id
            for item in section.items(catalogue).values()
            if item.published_at is None or item.published_at > cutoff
        )
        catalogue.match_cache[key] = late
    return late


def _candidates(catalogue: Catalogue, section: Any, sub: SubscriberView) -> Iterator[Any]:
    if section.direct:
        yield from section.candidates(catalogue, sub)  # cheaper to compute than to cache (bit masks)
        return
    cache = catalogue.match_cache
    key = (section.key, section.cache_key(sub))
    hit = cache.get(key)
    if hit is None:
        prefix = list(islice(section.candidates(catalogue, sub), PREFIX))
        hit = (prefix, len(prefix) < PREFIX)
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        cache[key] = hit
    prefix, exhausted = hit
    yield from prefix
    if not exhausted:
        yield from islice(section.candidates(catalogue, sub), PREFIX, None)


def primary_mailing(mailings: frozenset[str]) -> str:
    """The mailing recorded on a digest's outbox row. Its links name the digest stream instead
    (``crm.mailing.compliance.DIGEST_STREAM``): unsubscribing stops every later digest, whatever its sections."""
    for section in SECTIONS:
        if section.mailing in mailings:
            return section.mailing
    return SECTIONS[0].mailing
