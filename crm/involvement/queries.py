"""Reading involvement opportunities for the public: the list (filters, sort, keyset pages, a capped count) and one
opportunity's page. Only published ones whose closing moment has not passed are listed; a closed one keeps its
page, which says so. No contact details or expressions of interest are ever read here.

Statements: a list page is one (two with its count); a page with its filter menus one more; an opportunity's page
two (the row with its organisation and region, then its topics). ``tests/involvement/test_opportunities_list.py``
asserts these counts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from crm import filter_choices as choices
from crm import models as m
from crm.directory.organisations import public_condition
from crm.errors import NotFound
from crm.involvement.rules import OPEN_STATUS, is_open, payment_label, payment_summary
from crm.listing import ListParams, Page, SortOption, Sorts, fetch_page

O = m.InvolvementOpportunity  # noqa: E741 - short alias for column expressions
Status = m.OpportunityStatus
links = m.involvement_opportunity_topics
UK_CODE = "UK"  # a UK-wide opportunity fits every region

FILTER_NAMES = ("kind", "topic", "region", "pay", "commitment", "closing_before")
MULTI_FILTERS = ("topic",)
PAY_CHOICES = [("paid", "Paid"), ("expenses", "Expenses only")]
PUBLIC_SORTS = Sorts(
    SortOption("closing", "Closing soonest", O.closes_at),
    SortOption("newest", "Newest first", O.published_at, descending=True),
)
# Pages that show an opportunity: published (open, or past its date before the job ran) and closed ones.
PAGE_STATUSES = (Status.PUBLISHED, Status.CLOSED)


def _one(raw: Any) -> str:
    if isinstance(raw, list | tuple):
        raw = raw[0] if raw else ""
    return "" if raw is None else str(raw).strip()[:100]


@dataclasses.dataclass(frozen=True, slots=True)
class Filters:
    """The public list's filters, already checked: unknown values are dropped (a menu cannot send them), and a
    closing date that is not a date is a problem the page shows (``problems``), never a 500."""

    kind: str = ""
    topics: tuple[str, ...] = ()  # topic slugs
    region: str = ""  # region slug
    pay: str = ""  # "paid" | "expenses" | ""
    commitment: str = ""
    closing_before: dt.date | None = None
    problems: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Filters:
        kind, pay, commitment = _one(raw.get("kind")), _one(raw.get("pay")), _one(raw.get("commitment"))
        topics = raw.get("topic") or []
        topics = [topics] if isinstance(topics, str) else list(topics)
        closing_raw = _one(raw.get("closing_before"))
        closing: dt.date | None = None
        problems: list[tuple[str, str]] = []
        if closing_raw:
            try:
                closing = dt.date.fromisoformat(closing_raw)
            except ValueError:
                problems.append(
                    (
                        "closing_before",
                        f"Closing on or before: enter a date like 2027-03-31. “{closing_raw[:40]}” is not a date.",
                    )
                )
        return cls(
            kind=kind if kind in {k.value for k in m.InvolvementKind} else "",
            topics=tuple(dict.fromkeys(str(t).strip()[:100] for t in topics if str(t).strip()))[:30],
            region=_one(raw.get("region")),
            pay=pay if pay in {"paid", "expenses"} else "",
            commitment=commitment if commitment in {c.value for c in m.Commitment} else "",
            closing_before=closing,
            problems=tuple(problems),
        )

    @property
    def problem_messages(self) -> dict[str, str]:
        return dict(self.problems)


def unknown_filters(db: Session | Connection, params: ListParams) -> dict[str, choices.Unknown]:
    """The filters whose value the list's menus do not offer (``crm.filter_choices``): the page leaves them out and
    says so (``Filters`` used to drop a kind, pay or time silently, and to apply a region or topic nobody lists, so
    nothing matched), the API answers 422. Topics and regions are read only when filtered by, and kept."""
    return choices.unknown_choices(
        params.filters,
        (
            choices.Menu("kind", "kind of involvement", {k.value for k in m.InvolvementKind}),
            choices.Menu("region", "region", choices.region_slugs(db)),
            choices.Menu("pay", "payment option", {value for value, _ in PAY_CHOICES}),
            choices.Menu("commitment", "amount of time", {c.value for c in m.Commitment}),
            choices.Menu("topic", "topic", choices.topic_slugs(db)),
        ),
    )


def filter_conditions(filters: Filters) -> list[ColumnElement[bool]]:
    """The filters as SQL (topics and regions by slug, as sub-selects: no extra statements)."""
    conditions: list[ColumnElement[bool]] = []
    if filters.kind:
        conditions.append(O.kind == filters.kind)
    if filters.commitment:
        conditions.append(O.commitment == filters.commitment)
    if filters.pay == "paid":
        conditions.append(O.paid.is_(True))
    elif filters.pay == "expenses":
        conditions.append(and_(O.paid.is_(False), O.expenses_covered.is_(True)))
    if filters.closing_before is not None:
        conditions.append(O.closing_date <= filters.closing_before)
    if filters.topics:
        chosen = select(m.Topic.id).where(m.Topic.slug.in_(filters.topics))
        conditions.append(
            exists().where(links.c.opportunity_id == O.id, links.c.topic_id.in_(chosen.scalar_subquery()))
        )
    if filters.region:
        # In that region, online (anyone can take part from anywhere), or UK-wide.
        chosen_or_uk = select(m.Region.id).where(or_(m.Region.slug == filters.region, m.Region.code == UK_CODE))
        conditions.append(or_(O.online.is_(True), O.region_id.in_(chosen_or_uk.scalar_subquery())))
    return conditions


def _search(q: str) -> list[ColumnElement[bool]]:
    """Every word in the title, summary or what the role asks (a short table: a plain LIKE per word)."""
    text = func.lower(O.title + " " + O.summary + " " + O.what_you_will_do + " " + O.lived_experience_sought)
    return [text.contains(word.lower(), autoescape=True) for word in q.split()[:8]]


@functools.cache
def _cards() -> Select[Any]:
    """What a card shows, built once (statements are immutable)."""
    return (
        select(
            O.id,
            O.title,
            O.slug,
            O.kind,
            O.summary,
            O.online,
            O.paid,
            O.payment_pence,
            O.payment_basis,
            O.expenses_covered,
            O.commitment,
            O.time_commitment,
            O.closing_date,
            O.closes_at,
            O.published_at,
            m.Organisation.name.label("organisation_name"),
            m.Region.name.label("region_name"),
        )
        .outerjoin(m.Organisation, m.Organisation.id == O.organisation_id)
        .outerjoin(m.Region, m.Region.id == O.region_id)
        .where(O.status == OPEN_STATUS)
    )


def public_list(session: Session, params: ListParams, *, now: dt.datetime, count: bool = False) -> Page:
    """Open opportunities (published, closing moment still ahead) matching the filters: one statement per page,
    two with ``count``. Filters with a problem match nothing (the page shows the problem instead)."""
    filters = Filters.from_mapping(params.filters)
    query = _cards().where(*filter_conditions(filters), *_search(params.q))
    if filters.problems:
        query = query.where(O.id.is_(None))
    return fetch_page(session, query, params, PUBLIC_SORTS, id_column=O.id, floor=(O.closes_at, now), count=count)


def where(region_name: str | None, online: bool) -> str:
    """ "Online", "London", "London or online" for a card or a page."""
    if region_name and online:
        return f"{region_name} or online"
    return region_name or ("Online" if online else "")


@dataclasses.dataclass(slots=True)
class Detail:
    opportunity: m.InvolvementOpportunity
    organisation_name: str
    organisation_slug: str
    organisation_public: bool
    region_name: str
    topics: list[Any]
    open: bool

    @property
    def payment(self) -> str:
        return payment_summary(self.opportunity)

    @property
    def payment_label(self) -> str:
        return payment_label(self.opportunity.payment_pence, self.opportunity.payment_basis)

    @property
    def where(self) -> str:
        return where(self.region_name, self.opportunity.online)


def _detail(session: Session, condition: ColumnElement[bool], *, now: dt.datetime) -> Detail | None:
    """One opportunity with its organisation and region (one statement), then its topics (one more)."""
    row = session.execute(
        select(
            O,
            m.Organisation.name.label("organisation_name"),
            m.Organisation.slug.label("organisation_slug"),
            public_condition().label("organisation_public"),
            m.Region.name.label("region_name"),
        )
        .outerjoin(m.Organisation, m.Organisation.id == O.organisation_id)
        .outerjoin(m.Region, m.Region.id == O.region_id)
        .where(condition)
    ).first()
    if row is None:
        return None
    opp = row[0]
    topics = list(
        session.execute(
            select(m.Topic.id, m.Topic.name, m.Topic.slug)
            .join(links, links.c.topic_id == m.Topic.id)
            .where(links.c.opportunity_id == opp.id)
            .order_by(m.Topic.name)
        )
    )
    return Detail(
        opportunity=opp,
        organisation_name=row.organisation_name or "",
        organisation_slug=row.organisation_slug or "",
        organisation_public=bool(row.organisation_public),
        region_name=row.region_name or "",
        topics=topics,
        open=is_open(opp.status, opp.closes_at, now),
    )


def public_detail(session: Session, slug: str, *, now: dt.datetime) -> Detail:
    """A published or closed opportunity by its address (two statements); anything else is "not found"."""
    detail = _detail(session, and_(O.slug == slug[:240], O.status.in_(PAGE_STATUSES)), now=now)
    if detail is None:
        raise NotFound("We could not find that opportunity. It may have been taken down.")
    return detail


def detail_by_id(session: Session, opportunity_id: int, *, now: dt.datetime) -> Detail:
    """An opportunity in any status (two statements); the caller decides who may see it."""
    detail = _detail(session, O.id == opportunity_id, now=now)
    if detail is None:
        raise NotFound("No such involvement opportunity.")
    return detail
