"""Funding-call sections: "New funding calls" and "Closing soon" (a matching call's deadline within 3 weeks).

Both read the same open calls, loaded once per run with two statements (calls with their funder's name; the
call↔topic and call↔region links plus the UK-wide region in one UNION ALL). Matching is in memory: a call
matches when it shares a topic with the subscriber (no topics on either side = any), is in one of their regions
(a UK-wide call, or a call without regions, matches everyone; no regions chosen = anywhere), comes from one of
their funders (none chosen = any), needs a VCSE partner if they asked for only those, and suits small user-led
groups (``crm.funding.fit``) if they asked for only those in the preference centre
(``Subscription.filters["funding_digest"]["suits_small_user_led"]``). That choice reads columns of the same load:
no statement more.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import literal, or_, select, union_all

from crm import models as m
from crm.digests.sections.base import Catalogue, Item, Section, SubscriberView, clip
from crm.funding import fit
from crm.funding.labels import amount_label
from crm.timefmt import format_datetime

CLOSING_WINDOW = dt.timedelta(weeks=3)


class CallItem(Item):
    __slots__ = (
        "amount",
        "closing_rank",
        "deadline",
        "deadline_label",
        "funder",
        "funder_id",
        "id",
        "needs_vcse",
        "published_at",
        "rank",
        "regions",
        "suits",
        "title",
        "topics",
        "uk_wide",
        "url",
    )


class Calls:
    """Open calls of one run and the indexes matching uses: bit masks over each ordering (newest first, soonest
    deadline first), so a subscriber's matching calls are a few integer ANDs and their set bits read in order."""

    def __init__(self, items: dict[int, CallItem], now: dt.datetime) -> None:
        self.items = items
        oldest = dt.datetime.min.replace(tzinfo=dt.UTC)
        ordered = sorted(items.values(), key=lambda c: (c.published_at or oldest, c.id), reverse=True)
        for rank, call in enumerate(ordered):
            call.rank = rank  # 0 = newest
        horizon = now + CLOSING_WINDOW
        soon = sorted(
            (c for c in ordered if c.deadline is not None and now < c.deadline <= horizon),
            key=lambda c: (c.deadline, c.id),
        )
        for position, call in enumerate(soon):
            call.closing_rank = position
        self.new = _Index(ordered)
        self.closing = _Index(soon)

    def matching(self, sub: SubscriberView, closing: bool = False) -> Iterator[CallItem]:
        """Matching calls, newest first (or soonest deadline first), produced lazily: a digest needs only a few."""
        index = self.closing if closing else self.new
        return index.read(index.mask(sub, fit.digest_wants_suits(sub.filters)))


class _Index:
    """One ordering of the open calls as bit positions (bit i = ``ordered[i]``) and, per filter value, the mask of
    the calls it lets through: a call matches when it shares a topic with the subscriber (no topics on either side
    = any), is in one of their regions (UK-wide or no regions = everywhere; none chosen = anywhere), comes from one
    of their funders (none chosen = any), needs a VCSE partner if they asked for only those, and suits small
    user-led groups if they asked for only those."""

    def __init__(self, ordered: list[CallItem]) -> None:
        self.ordered = ordered
        self.all = (1 << len(ordered)) - 1
        self.any_topic = self.everywhere = self.vcse = self.suits = 0
        self.by_topic: dict[int, int] = {}
        self.by_region: dict[int, int] = {}
        self.by_funder: dict[int, int] = {}
        for position, call in enumerate(ordered):
            bit = 1 << position
            if call.topics:
                for t in call.topics:
                    self.by_topic[t] = self.by_topic.get(t, 0) | bit
            else:
                self.any_topic |= bit
            if not call.regions or call.uk_wide:
                self.everywhere |= bit
            for r in call.regions:
                self.by_region[r] = self.by_region.get(r, 0) | bit
            if call.funder_id is not None:
                self.by_funder[call.funder_id] = self.by_funder.get(call.funder_id, 0) | bit
            if call.needs_vcse:
                self.vcse |= bit
            if call.suits:
                self.suits |= bit
        self._topic_masks: dict[frozenset[int], int] = {}

    def mask(self, sub: SubscriberView, only_suits: bool) -> int:
        topics = sub.topics
        if topics:
            mask = self._topic_masks.get(topics)
            if mask is None:
                mask = self.any_topic
                for t in topics:
                    mask |= self.by_topic.get(t, 0)
                if len(self._topic_masks) < 100_000:
                    self._topic_masks[topics] = mask
        else:
            mask = self.all  # no topics chosen (or all deleted): any topic
        if sub.regions:
            allowed = self.everywhere
            for r in sub.regions:
                allowed |= self.by_region.get(r, 0)
            mask &= allowed
        if sub.funders:
            allowed = 0
            for f in sub.funders:
                allowed |= self.by_funder.get(f, 0)
            mask &= allowed
        if sub.only_vcse:
            mask &= self.vcse
        if only_suits:
            mask &= self.suits
        return mask

    def read(self, mask: int) -> Iterator[CallItem]:
        """The calls of ``mask`` in order (lowest bit first)."""
        ordered = self.ordered
        while mask:
            low = mask & -mask
            yield ordered[low.bit_length() - 1]
            mask ^= low


def load_calls(cat: Catalogue) -> Calls:
    C = m.FundingCall
    rows = cat.session.execute(
        select(
            C.id,
            C.title,
            C.slug,
            C.funder_id,
            m.Organisation.name.label("funder_name"),
            C.amount_min,
            C.amount_max,
            C.next_deadline_at,
            C.requires_vcse_partner,
            C.published_at,
            C.funding_type,
            C.application_effort,
            C.open_to_unregistered,
            C.open_to_user_led,
        )
        .join(m.Organisation, m.Organisation.id == C.funder_id, isouter=True)
        .where(
            C.status == m.CallStatus.PUBLISHED,
            or_(C.next_deadline_at.is_(None), C.next_deadline_at > cat.now),
        )
    ).all()
    ct, cr = m.funding_call_topics.c, m.funding_call_regions.c
    links = cat.session.execute(
        union_all(
            select(literal("t").label("k"), ct.call_id.label("a"), ct.topic_id.label("b")).where(
                ct.call_id.in_(select(C.id).where(C.status == m.CallStatus.PUBLISHED))
            ),
            select(literal("r"), cr.call_id, cr.region_id).where(
                cr.call_id.in_(select(C.id).where(C.status == m.CallStatus.PUBLISHED))
            ),
            select(literal("u"), m.Region.id, m.Region.id).where(m.Region.code == "UK"),
        )
    ).all()
    topics: dict[int, set[int]] = {}
    regions: dict[int, set[int]] = {}
    uk: set[int] = set()
    for kind, a, b in links:
        if kind == "t":
            topics.setdefault(a, set()).add(b)
        elif kind == "r":
            regions.setdefault(a, set()).add(b)
        else:
            uk.add(a)
    cat.uk_region_ids = frozenset(uk)  # type: ignore[attr-defined]
    base = cat.base_url
    items = {}
    for r in rows:
        call_regions = frozenset(regions.get(r.id, ()))
        items[r.id] = CallItem(
            id=r.id,
            title=clip(r.title, 200) or "Untitled call",
            funder=clip(r.funder_name, 120),
            funder_id=r.funder_id,
            amount=amount_label(r.amount_min, r.amount_max),
            deadline=r.next_deadline_at,
            deadline_label=format_datetime(r.next_deadline_at) if r.next_deadline_at else "",
            needs_vcse=bool(r.requires_vcse_partner),
            suits=fit.call_suits(r),
            published_at=r.published_at,
            topics=frozenset(topics.get(r.id, ())),
            regions=call_regions,
            uk_wide=bool(call_regions & uk),
            url=f"{base}/funding-calls/{r.slug}",
        )
    return Calls(items, cat.now)


class _CallSection(Section):
    """Both sections read the run's open calls (one load); they differ in which matching calls they pick."""

    item_kind = "call"
    mailing = "funding_digest"
    direct = True  # a few integer ANDs, then the set bits read in order
    more_url = "/funding-calls"
    source = ("calls", load_calls)

    def items(self, catalogue: Catalogue) -> dict[int, Any]:
        return self.open_items(catalogue).items

    def cache_key(self, sub: SubscriberView) -> Any:
        # The preference-centre choice "only calls that suit small user-led groups" changes the candidates too.
        return (*sub.match_key, fit.digest_wants_suits(sub.filters))


class NewCalls(_CallSection):
    key = "calls_new"
    title = "New funding calls"
    ledger_kind = "call"
    limit = 3

    def candidates(self, catalogue: Catalogue, sub: SubscriberView) -> Iterable[Any]:
        return self.open_items(catalogue).matching(sub)


class ClosingSoon(_CallSection):
    key = "calls_closing"
    title = "Closing soon"
    ledger_kind = "call_closing"
    limit = 2

    def ledger_kinds(self) -> tuple[str, ...]:
        # A call first shown as "closing soon" counts as shown: it is not "new" next week.
        return ("call_closing", "call")

    def candidates(self, catalogue: Catalogue, sub: SubscriberView) -> Iterable[Any]:
        return self.open_items(catalogue).matching(sub, closing=True)
