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
import heapq
import operator
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
    """Open calls of one run and the indexes matching uses (per topic, pre-sorted; merged lazily per subscriber)."""

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
        self.new = _Index(ordered, "rank")
        self.closing = _Index(soon, "closing_rank")

    def matching(self, sub: SubscriberView, closing: bool = False) -> Iterator[CallItem]:
        """Matching calls, newest first (or soonest deadline first), produced lazily: a digest needs only a few."""
        index = self.closing if closing else self.new
        regions, funders, only_vcse = sub.regions, sub.funders, sub.only_vcse
        only_suits = fit.digest_wants_suits(sub.filters)
        last = -1
        for c in index.merged(sub.topics):
            if c.id == last:
                continue  # a call in two of the subscriber's topics comes out of the merge twice in a row
            last = c.id
            if regions and c.regions and not c.uk_wide and not (c.regions & regions):
                continue
            if funders and c.funder_id not in funders:
                continue
            if only_vcse and not c.needs_vcse:
                continue
            if only_suits and not c.suits:
                continue
            yield c


class _Index:
    def __init__(self, ordered: list[CallItem], attr: str) -> None:
        self.all = ordered
        self.key = operator.attrgetter(attr)
        self.by_topic: dict[int, list[CallItem]] = {}
        self.any_topic: list[CallItem] = []
        for call in ordered:  # already in order, so every list stays sorted
            if call.topics:
                for t in call.topics:
                    self.by_topic.setdefault(t, []).append(call)
            else:
                self.any_topic.append(call)

    def merged(self, topics: frozenset[int]) -> Iterator[CallItem]:
        if not topics:
            return iter(self.all)  # no topics chosen (or all deleted): any topic
        lists = [self.by_topic[t] for t in topics if t in self.by_topic]
        if self.any_topic:
            lists.append(self.any_topic)
        if len(lists) == 1:
            return iter(lists[0])
        return heapq.merge(*lists, key=self.key)


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
