"""Internship alerts: which new listings fit a subscriber, and the filters a subscription stores.

The fit rule itself is ``crm.internships.fit`` (one pure function and its SQL form); this module reads a
subscription's stored filters into ``Criteria``, runs the rule as one statement (``matching_internships``) or loads
the open listings once for the digest's in-memory matching (``load_alert_items``), and formats what the
``templates/email/_section_internships(_item).(html|txt)`` templates show.
A subscription keeps its topics and regions in its own columns; the internship-specific filters live in
``Subscription.filters["internship_alerts"]`` (``FILTERS_KEY``) as the dict ``internship_filters_from_form`` returns::

    {"direction": "researcher-to-vcse", "modes": ["remote"], "paid": "paid", "max_hours": 20,
     "stage": "early-career-researcher"}

Every key is optional; an empty dict means "every new internship".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, String, cast, literal, select, union_all
from sqlalchemy.orm import Session

from crm import models as m
from crm.internships.fit import Criteria, InternshipFacts, fit_conditions
from crm.internships.queries import Filters, listings, open_at
from crm.internships.rules import STAGE_LABELS, stage_label, stipend_label
from crm.timefmt import format_date

ALERT_LIMIT = 50
FILTER_KEYS = ("direction", "modes", "paid", "max_hours", "stage")
# Where a subscription keeps these filters: ``Subscription.filters[FILTERS_KEY]`` (keyed by mailing, as the
# mailing model documents).
FILTERS_KEY = "internship_alerts"


def filters_from_stored(stored: Mapping[str, Any] | None) -> Filters:
    """The stored dict back to ``Filters`` (unknown or bad values are dropped, never an error)."""
    stored = stored or {}
    return Filters.from_mapping(
        {
            "direction": stored.get("direction", ""),
            "mode": list(stored.get("modes") or []),
            "paid": stored.get("paid", ""),
            "hours": str(stored.get("max_hours") or ""),
            "stage": stored.get("stage", ""),
        }
    )


def criteria(
    stored: Mapping[str, Any] | None,
    topic_ids: Iterable[int] = (),
    region_ids: Iterable[int] = (),
    published_after: dt.datetime | None = None,
) -> Criteria:
    """A subscriber's ``Criteria`` for the fit rule: the stored alert filters (``stored_filters``' dict) plus the
    subscription's topics and regions."""
    return Criteria.of(filters_from_stored(stored), topic_ids, region_ids, published_after)


def internship_filters_from_form(form: Any) -> dict[str, Any]:
    """Validate the alert filters of a subscribe/preferences form (a ``crm.web.forms.Form``).

    Reads ``direction``, ``mode`` (several), ``paid`` (paid|unpaid), ``hours`` (max per week) and ``stage``;
    adds a message to ``form.errors`` for each bad value, and returns the dict to store in
    ``Subscription.filters["internships"]``. Topics and regions are the subscription's own fields.
    """
    direction = form.str("direction")
    if direction and direction not in {d.value for d in m.InternshipDirection}:
        form.add_error("direction", "Choose who the placement is for.")
        direction = ""
    modes = [v for v in dict.fromkeys(form.getlist("mode"))]
    if any(v not in {x.value for x in m.InternshipMode} for v in modes):
        form.add_error("mode", "Choose on-site, hybrid or remote.")
        modes = [v for v in modes if v in {x.value for x in m.InternshipMode}]
    paid = form.str("paid")
    if paid and paid not in {"paid", "unpaid"}:
        form.add_error("paid", "Choose paid, unpaid or either.")
        paid = ""
    hours_raw = form.str("hours")
    max_hours = None
    if hours_raw:
        if not hours_raw.isdigit() or not 1 <= int(hours_raw) <= 60:
            form.add_error("hours", "Hours per week must be a whole number between 1 and 60.")
        else:
            max_hours = int(hours_raw)
    stage = form.str("stage")
    if stage and stage not in STAGE_LABELS:
        form.add_error("stage", "Choose a career stage from the list.")
        stage = ""
    result: dict[str, Any] = {}
    if direction:
        result["direction"] = direction
    if modes:
        result["modes"] = modes
    if paid:
        result["paid"] = paid
    if max_hours:
        result["max_hours"] = max_hours
    if stage:
        result["stage"] = stage
    return result


def describe_filters(stored: Mapping[str, Any] | None) -> list[str]:
    """Plain-language lines for a preferences page ("Remote or hybrid", "Paid only", ...)."""
    f = filters_from_stored(stored)
    lines = []
    if f.direction:
        lines.append(m.InternshipDirection(f.direction).label)
    if f.modes:
        lines.append(" or ".join(m.InternshipMode(x).label for x in f.modes))
    if f.paid:
        lines.append("Paid only" if f.paid == "paid" else "Unpaid only")
    if f.max_hours:
        lines.append(f"Up to {f.max_hours} hours a week")
    if f.stage:
        lines.append(f"Open to: {stage_label(f.stage)}")
    return lines


def open_listings(now: dt.datetime) -> Select[Any]:
    """Published listings still open at ``now``, with host and region names: the one query that the alert
    matching and the digest's internship section start from (callers add filters and order)."""
    return listings(m.Internship.region_id, m.Region.code.label("region_code")).where(*open_at(now))


def open_listing_ids(now: dt.datetime) -> Select[Any]:
    return select(m.Internship.id).where(*open_at(now))


def matching_internships(
    session: Session,
    filters: Mapping[str, Any] | None,
    topic_ids: Sequence[int],
    region_ids: Sequence[int],
    published_after: dt.datetime | None,
    now: dt.datetime,
    *,
    limit: int = ALERT_LIMIT,
) -> list[Any]:
    """Published, still-open listings first published after ``published_after`` that fit the subscriber.

    ``filters`` is the stored ``stored_filters(Subscription.filters)`` dict; ``topic_ids``/``region_ids`` the
    subscription's topics and regions (empty = any; a listing matches when it shares at least one topic, and
    is in one of the regions or UK-wide). One bounded statement, newest first. Rows carry ``title``,
    ``slug``, ``host_name``, ``paid``, ``stipend_pence``, ``stipend_period``, ``closing_date``, ``mode``,
    ``region_name``, ``published_at`` (see ``section_items`` for the template-ready shape).
    """
    I = m.Internship  # noqa: E741
    query = open_listings(now).where(*fit_conditions(criteria(filters, topic_ids, region_ids, published_after)))
    return list(session.execute(query.order_by(I.published_at.desc(), I.id.desc()).limit(limit)))


def subscribe_url(
    filters: Filters, topic_ids: Mapping[str, int] | None = None, region_ids: Mapping[str, int] | None = None
) -> str:
    """The "Get alerts for this search" link: /subscribe with internship alerts and these filters pre-filled.

    Parameters (the names the subscribe form posts): ``mailings=internship_alerts``; ``topics`` and ``regions``
    as ids (repeated), the subscription's own topics and regions (``topic_ids``/``region_ids`` map the list
    page's slugs to ids; unknown slugs are dropped); and ``direction``, ``mode`` (repeated), ``paid``,
    ``hours``, ``stage`` for ``internship_filters_from_form``.
    """
    topic_ids = topic_ids or {}
    region_ids = region_ids or {}
    params: list[tuple[str, str]] = [("mailings", "internship_alerts")]
    params += [("topics", str(topic_ids[t])) for t in filters.topics if t in topic_ids]
    params += [("regions", str(region_ids[r])) for r in filters.regions if r in region_ids]
    if filters.direction:
        params.append(("direction", filters.direction))
    params += [("mode", x) for x in filters.modes]
    if filters.paid:
        params.append(("paid", filters.paid))
    if filters.max_hours:
        params.append(("hours", str(filters.max_hours)))
    if filters.stage:
        params.append(("stage", filters.stage))
    return "/subscribe?" + urlencode(params)


def stored_filters(subscription_filters: Mapping[str, Any] | None) -> dict[str, Any]:
    """The internship part of ``Subscription.filters`` (keyed by mailing, ``"internship_alerts"``; the older
    key ``"internships"`` is read too)."""
    subscription_filters = subscription_filters or {}
    value = subscription_filters.get(FILTERS_KEY) or subscription_filters.get("internships") or {}
    return dict(value) if isinstance(value, Mapping) else {}


@dataclasses.dataclass(frozen=True, slots=True)
class SectionItem:
    """One internship as the digest section templates show it (dates and money formatted once)."""

    title: str
    host: str
    stipend: str
    closing: str
    mode: str
    region: str
    url: str


def section_items(rows: Sequence[Any], base_url: str) -> list[SectionItem]:
    """Rows from ``matching_internships`` → items for ``email/_section_internships.(html|txt)``:

    ``{% include "email/_section_internships.html" %}`` with ``internships`` = this list in the context.
    """
    base = base_url.rstrip("/")
    return [
        SectionItem(
            title=r.title,
            host=r.host_name,
            stipend=stipend_label(r),
            closing=format_date(r.closing_date),
            mode=r.mode.label,
            region=r.region_name or "",
            url=f"{base}/internships/{r.slug}",
        )
        for r in rows
    ]


# ---------------------------------------------------------------------------------------------------------
# The open listings loaded once, for the digest engine's "load once per run, match each subscriber in memory"
# design (``crm.digests.sections.internships``): two statements whatever the number of subscribers; each
# subscriber is then matched with ``crm.internships.fit.fits(item.facts, criteria(...))``.


class AlertItem:
    """An open internship, formatted once per run (the ``it`` of ``email/_section_internships_item``), with the
    ``facts`` the fit rule reads."""

    __slots__ = (
        "closes_at",
        "closing",
        "facts",
        "host",
        "id",
        "mode",
        "published_at",
        "region",
        "stipend",
        "title",
        "url",
    )

    def __init__(self, **values: Any) -> None:
        for name in self.__slots__:
            setattr(self, name, values.get(name))


def load_alert_items(session: Session, now: dt.datetime, base_url: str) -> list[AlertItem]:
    """Every published, open internship, newest first (two statements: the listings, then their topics and career
    stages in one UNION ALL)."""
    I = m.Internship  # noqa: E741
    rows = list(session.execute(open_listings(now).order_by(I.published_at.desc(), I.id.desc())))
    it, st = m.internship_topics.c, m.internship_career_stages.c
    open_ids = open_listing_ids(now)
    links = session.execute(
        union_all(
            select(literal("t").label("k"), it.internship_id, cast(it.topic_id, String(40)).label("v")).where(
                it.internship_id.in_(open_ids)
            ),
            select(literal("s"), st.internship_id, st.stage).where(st.internship_id.in_(open_ids)),
        )
    )
    topics: dict[int, set[int]] = {}
    stages: dict[int, set[str]] = {}
    for kind, internship_id, value in links:
        if kind == "t":
            topics.setdefault(internship_id, set()).add(int(value))
        else:
            stages.setdefault(internship_id, set()).add(value)
    return [
        AlertItem(
            id=r.id,
            published_at=r.published_at,
            closes_at=r.closes_at,
            facts=InternshipFacts(
                direction=r.direction.value,
                mode=r.mode.value,
                paid=bool(r.paid),
                hours_per_week=r.hours_per_week,
                region_id=r.region_id,
                uk_wide=r.region_code == "UK",
                topic_ids=frozenset(topics.get(r.id, ())),
                stages=frozenset(stages.get(r.id, ())),
                published_at=r.published_at,
            ),
            **dataclasses.asdict(shown),
        )
        for r, shown in zip(rows, section_items(rows, base_url), strict=True)
    ]
