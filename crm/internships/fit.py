"""Which internships fit a subscriber's filters: one rule, as a pure function and as SQL (tested to agree).

The rule, for an open listing and a subscriber's ``Criteria`` (every part optional; empty = no constraint):

- direction equal; mode one of the chosen modes; paid or unpaid as chosen;
- hours a week known and at most ``max_hours``;
- career stage among the listing's stages, or the listing names no stage (open to every career stage);
- shares at least one of the chosen topics;
- in one of the chosen regions, or UK-wide (a UK-wide listing fits every region);
- first published after ``published_after`` (alerts send what is new since the last send).

``fits(facts, criteria)`` is the rule in memory (the digest matches every subscriber against listings loaded once
per run); ``fit_conditions(criteria)`` is the same rule as SQL conditions on ``m.Internship`` (single-subscriber
alerts and the public list's filters). ``tests/internships/test_fit.py`` runs both over a grid of listings and
filters on both databases.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, exists, or_, select

from crm import models as m

I = m.Internship  # noqa: E741 - short alias for column expressions
UK_CODE = "UK"


@dataclasses.dataclass(frozen=True, slots=True)
class InternshipFacts:
    """What the rule reads of one listing (enum values as plain strings)."""

    direction: str
    mode: str
    paid: bool
    hours_per_week: int | None
    region_id: int | None
    uk_wide: bool
    topic_ids: frozenset[int] = frozenset()
    stages: frozenset[str] = frozenset()
    published_at: dt.datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Criteria:
    """A subscriber's filters: the stored alert filters plus the subscription's topics and regions (ids)."""

    direction: str = ""
    modes: frozenset[str] = frozenset()
    paid: str = ""  # "paid" | "unpaid" | ""
    max_hours: int | None = None
    stage: str = ""
    topic_ids: frozenset[int] = frozenset()
    region_ids: frozenset[int] = frozenset()
    published_after: dt.datetime | None = None

    @classmethod
    def of(
        cls,
        filters: Any,
        topic_ids: Iterable[int] = (),
        region_ids: Iterable[int] = (),
        published_after: dt.datetime | None = None,
    ) -> Criteria:
        """From validated filters (``crm.internships.queries.Filters``: direction, modes, paid, max_hours, stage)."""
        return cls(
            direction=filters.direction,
            modes=frozenset(filters.modes),
            paid=filters.paid,
            max_hours=filters.max_hours,
            stage=filters.stage,
            topic_ids=frozenset(topic_ids),
            region_ids=frozenset(region_ids),
            published_after=published_after,
        )


def fits(facts: InternshipFacts, criteria: Criteria) -> bool:
    """Does this open listing fit? (The rule in the module docstring; ``fit_conditions`` is its SQL form.)"""
    c = criteria
    if c.published_after is not None and (facts.published_at is None or facts.published_at <= c.published_after):
        return False
    if c.direction and facts.direction != c.direction:
        return False
    if c.modes and facts.mode not in c.modes:
        return False
    if c.paid == "paid" and not facts.paid:
        return False
    if c.paid == "unpaid" and facts.paid:
        return False
    if c.max_hours and (facts.hours_per_week is None or facts.hours_per_week > c.max_hours):
        return False
    if c.stage and facts.stages and c.stage not in facts.stages:
        return False
    if c.topic_ids and not (facts.topic_ids & c.topic_ids):
        return False
    return not (c.region_ids and not facts.uk_wide and facts.region_id not in c.region_ids)


def topic_condition(topic_ids: Any) -> ColumnElement[bool]:
    """Shares a topic with ``topic_ids`` (ids, or a select of ids such as the topics named by slug)."""
    links = m.internship_topics.c
    return exists().where(links.internship_id == I.id, links.topic_id.in_(topic_ids))


def region_condition(region_ids: Any) -> ColumnElement[bool]:
    """In one of ``region_ids`` (ids, or a select of ids) or UK-wide."""
    uk_wide = I.region_id.in_(select(m.Region.id).where(m.Region.code == UK_CODE))
    return or_(I.region_id.in_(region_ids), uk_wide)


def fit_conditions(criteria: Criteria) -> list[ColumnElement[bool]]:
    """``fits`` as SQL conditions on ``m.Internship`` (no extra statements: topics, stages and UK-wide are
    sub-selects); an empty list when the criteria constrain nothing."""
    c = criteria
    conds: list[ColumnElement[bool]] = []
    if c.published_after is not None:
        conds.append(I.published_at > c.published_after)
    if c.direction:
        conds.append(I.direction == c.direction)
    if c.modes:
        conds.append(I.mode.in_(sorted(c.modes)))
    if c.paid == "paid":
        conds.append(I.paid.is_(True))
    elif c.paid == "unpaid":
        conds.append(I.paid.is_(False))
    if c.max_hours:
        conds.append(I.hours_per_week <= c.max_hours)
    if c.stage:
        stages = m.internship_career_stages.c
        any_stage = exists().where(stages.internship_id == I.id)
        this_stage = exists().where(stages.internship_id == I.id, stages.stage == c.stage)
        conds.append(or_(this_stage, ~any_stage))
    if c.topic_ids:
        conds.append(topic_condition(sorted(c.topic_ids)))
    if c.region_ids:
        conds.append(region_condition(sorted(c.region_ids)))
    return conds
