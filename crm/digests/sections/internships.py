"""The "Open internships" section, for subscribers to internship alerts.

Open listings are loaded once per run (one statement, plus one for their topics and career stages), turned into
the internships domain's own ``SectionItem`` (``crm.internships.alerts.section_items``) and rendered with its
``email/_section_internships`` templates. Matching mirrors ``crm.internships.services.apply_filters`` in memory:
topics (shares one; none chosen = any), regions (in one of them or UK-wide; none chosen = anywhere), and the
alert filters stored in ``Subscription.filters["internships"]`` (direction, modes, paid, max hours, stage).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import String, cast, literal, select, union_all

from crm import models as m
from crm.digests.sections.base import Catalogue, Section, SubscriberView
from crm.internships.alerts import filters_from_stored, open_listing_ids, open_listings, section_items


class InternshipItem:
    __slots__ = (
        "direction",
        "hours",
        "id",
        "mode",
        "paid",
        "published_at",
        "region_id",
        "section_item",
        "stages",
        "title",
        "topics",
        "url",
    )

    def __init__(self, **values: Any) -> None:
        for name in self.__slots__:
            setattr(self, name, values.get(name))


def load_internships(cat: Catalogue) -> list[InternshipItem]:
    I = m.Internship  # noqa: E741
    rows = cat.session.execute(open_listings(cat.now).order_by(I.published_at.desc(), I.id.desc())).all()
    it, st = m.internship_topics.c, m.internship_career_stages.c
    open_ids = open_listing_ids(cat.now)
    links = cat.session.execute(
        union_all(
            select(literal("t").label("k"), it.internship_id, cast(it.topic_id, String(40)).label("v")).where(
                it.internship_id.in_(open_ids)
            ),
            select(literal("s"), st.internship_id, st.stage).where(st.internship_id.in_(open_ids)),
        )
    ).all()
    topics: dict[int, set[int]] = {}
    stages: dict[int, set[str]] = {}
    for kind, iid, value in links:
        if kind == "t":
            topics.setdefault(iid, set()).add(int(value))
        else:
            stages.setdefault(iid, set()).add(value)
    shown = section_items(rows, cat.base_url)
    return [
        InternshipItem(
            id=r.id,
            title=r.title,
            url=s.url,
            direction=r.direction.value if r.direction is not None else "",
            mode=r.mode.value if r.mode is not None else "",
            paid=bool(r.paid),
            hours=r.hours_per_week,
            region_id=r.region_id,
            published_at=r.published_at,
            topics=frozenset(topics.get(r.id, ())),
            stages=frozenset(stages.get(r.id, ())),
            section_item=s,
        )
        for r, s in zip(rows, shown, strict=True)
    ]


def fits(item: InternshipItem, sub: SubscriberView, filters: Any, uk: frozenset[int]) -> bool:
    if filters.direction and item.direction != filters.direction:
        return False
    if filters.modes and item.mode not in filters.modes:
        return False
    if filters.paid == "paid" and not item.paid:
        return False
    if filters.paid == "unpaid" and item.paid:
        return False
    if filters.max_hours and (item.hours is None or item.hours > filters.max_hours):
        return False
    if filters.stage and item.stages and filters.stage not in item.stages:
        return False
    if sub.topics and not (item.topics & sub.topics):
        return False
    return not (sub.regions and item.region_id not in sub.regions and item.region_id not in uk)


class OpenInternships(Section):
    key = "internships"
    title = "Open internships"
    item_kind = "internship"
    ledger_kind = "internship"
    mailing = "internship_alerts"
    limit = 2
    more_url = "/internships"

    def load(self, catalogue: Catalogue) -> None:
        catalogue.once("internships", load_internships)

    def items(self, catalogue: Catalogue) -> dict[int, Any]:
        return {i.id: i for i in catalogue.once("internships", load_internships)}

    def candidates(self, catalogue: Catalogue, sub: SubscriberView) -> Iterable[Any]:
        items: list[InternshipItem] = catalogue.once("internships", load_internships)
        stored = (sub.filters or {}).get("internships") if isinstance(sub.filters, dict) else None
        filters = self._filters(catalogue, stored if isinstance(stored, dict) else None)
        uk = getattr(catalogue, "uk_region_ids", frozenset())
        return (i for i in items if fits(i, sub, filters, uk))

    def cache_key(self, sub: SubscriberView) -> Any:
        stored = (sub.filters or {}).get("internships") if isinstance(sub.filters, dict) else None
        return (sub.topics, sub.regions, json.dumps(stored, sort_keys=True, default=str))

    @staticmethod
    def _filters(catalogue: Catalogue, stored: dict[str, Any] | None) -> Any:
        """Parsed once per distinct stored value per run (subscribers share a handful of filter sets)."""
        cache: dict[str, Any] = catalogue.once("internship_filters", lambda _cat: {})
        key = json.dumps(stored, sort_keys=True, default=str)
        parsed = cache.get(key)
        if parsed is None:
            parsed = filters_from_stored(stored)
            if len(cache) < 10_000:
                cache[key] = parsed
        return parsed

    def fragment_context(self, item: Any) -> dict[str, Any]:
        return {"internships": [item.section_item]}
