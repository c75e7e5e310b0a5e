"""Funding-call reads: the public and admin lists (one statement a page), filter menus, a loaded call and the
open calls of a funder. The rules that change calls are in ``crm.funding.services``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from crm import filter_choices as choices
from crm import models as m
from crm import search
from crm.directory.reference import topics_and_regions
from crm.funding import fit
from crm.funding.services import MAX_AMOUNT
from crm.httpcache import remember
from crm.listing import ListParams, Page, SortOption, Sorts, fetch_page


def load_call(session: Session, *, call_id: int | None = None, slug: str | None = None) -> m.FundingCall | None:
    query = select(m.FundingCall).options(
        selectinload(m.FundingCall.deadlines),
        selectinload(m.FundingCall.topics),
        selectinload(m.FundingCall.regions),
        selectinload(m.FundingCall.funder),
    )
    where = m.FundingCall.id == call_id if call_id is not None else m.FundingCall.slug == slug
    query = query.where(where)
    return session.scalar(query)


PUBLIC_SORTS = Sorts(
    SortOption("deadline", "Nearest deadline", m.FundingCall.next_deadline_at),
    SortOption("-published", "Newest", m.FundingCall.published_at, descending=True),
    SortOption(
        "-amount",
        "Largest amount",
        func.coalesce(m.FundingCall.amount_max, m.FundingCall.amount_min, 0),
        descending=True,
    ),
    SortOption("title", "Title", m.FundingCall.title_normalised),
)

ADMIN_SORTS = Sorts(
    SortOption("deadline", "Nearest deadline", m.FundingCall.next_deadline_at),
    SortOption("-updated", "Recently changed", m.FundingCall.updated_at, descending=True),
    SortOption("title", "Title", m.FundingCall.title_normalised),
)

PUBLIC_FILTERS = ("topic", "region", "funder", "vcse", "weeks", "min_amount", "max_amount", fit.FILTER)
ADMIN_FILTERS = (*PUBLIC_FILTERS, "status")


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip().replace(",", "").lstrip("£"))
    except (TypeError, ValueError):
        return None


def _amount(value: Any) -> int | None:
    """An amount filter in whole pounds, or None when it is not one a call can hold (``filter_problems`` says why):
    a number past PostgreSQL's integer failed the whole query."""
    amount = _int(value)
    return amount if amount is not None and 0 <= amount <= MAX_AMOUNT else None


AMOUNT_FILTERS = {"min_amount": "Amount at least", "max_amount": "Amount at most"}


def filter_problems(filters: Mapping[str, Any]) -> dict[str, str]:
    """Filter name -> what is wrong with it, in plain words. The page then shows the problems instead of results:
    every call (the bad amount ignored) or none (nothing matches "abc") would both mislead."""
    problems: dict[str, str] = {}
    amounts: dict[str, int] = {}
    for name, label in AMOUNT_FILTERS.items():
        raw = str(filters.get(name) or "").strip()
        if not raw:
            continue
        value = _int(raw)
        if value is None or value < 0:
            problems[name] = f"{label}: enter an amount in whole pounds, like 5000. “{raw[:40]}” is not an amount."
        elif value > MAX_AMOUNT:
            problems[name] = f"{label}: enter an amount in whole pounds up to {MAX_AMOUNT:,}."
        else:
            amounts[name] = value
    if amounts.get("min_amount", 0) > amounts.get("max_amount", 10**12):
        problems["max_amount"] = "Amount at most is smaller than amount at least: swap them or clear one."
    return problems


def unknown_filters(db: Session | Connection, params: ListParams) -> dict[str, choices.Unknown]:
    """The filters whose value the list's menus do not offer (``crm.filter_choices``: the page leaves them out and
    says so, the API answers 422). A funder is any organisation by slug (the API takes funders the menu leaves
    out); each is read only when filtered by, and kept."""
    funder = str(params.filters.get("funder") or "")
    return choices.unknown_choices(
        params.filters,
        (
            choices.Menu("topic", "topic", choices.topic_slugs(db)),
            choices.Menu("region", "region", choices.region_slugs(db)),
            choices.Menu("funder", "funder", choices.organisation_slugs(db, funder)),
        ),
    )


def list_query(
    params: ListParams, *, now: dt.datetime, public: bool, open_floor: bool = False, ids_only: bool = False
) -> Select[Any]:
    """The list's columns and filters (no ordering: keyset_page adds it). Funder name via a join: one statement.
    ``open_floor``: the caller passes "last deadline not passed" as the list's floor, so it is left out here.
    ``ids_only``: the ids alone, without the funder's join unless a filter needs it (what the count runs)."""
    funder = m.Organisation
    f = params.filters
    if ids_only:
        query = select(m.FundingCall.id)
        if f.get("funder"):
            query = query.join(funder, funder.id == m.FundingCall.funder_id)
        return _filtered(query, params, now=now, public=public, open_floor=open_floor)
    query = select(
        m.FundingCall.id,
        m.FundingCall.title,
        m.FundingCall.slug,
        m.FundingCall.status,
        m.FundingCall.next_deadline_at,
        m.FundingCall.last_deadline_at,
        m.FundingCall.amount_min,
        m.FundingCall.amount_max,
        m.FundingCall.requires_vcse_partner,
        m.FundingCall.summary,
        m.FundingCall.funding_type,
        m.FundingCall.application_effort,
        m.FundingCall.open_to_unregistered,
        m.FundingCall.open_to_user_led,
        funder.name.label("funder_name"),
        funder.slug.label("funder_slug"),
    ).join(funder, funder.id == m.FundingCall.funder_id)
    return _filtered(query, params, now=now, public=public, open_floor=open_floor)


def _filtered(
    query: Select[Any], params: ListParams, *, now: dt.datetime, public: bool, open_floor: bool
) -> Select[Any]:
    funder = m.Organisation
    f = params.filters
    if public:
        query = query.where(m.FundingCall.status == m.CallStatus.PUBLISHED)
        if not open_floor:
            query = query.where(m.FundingCall.last_deadline_at > now)
    elif f.get("status") in {s.value for s in m.CallStatus}:
        query = query.where(m.FundingCall.status == f["status"])
    if topic := f.get("topic"):
        query = query.where(
            exists().where(
                m.funding_call_topics.c.call_id == m.FundingCall.id,
                m.funding_call_topics.c.topic_id == m.Topic.id,
                m.Topic.slug == topic,
            )
        )
    if region := f.get("region"):
        # A UK-wide call is open to every region.
        query = query.where(
            exists().where(
                m.funding_call_regions.c.call_id == m.FundingCall.id,
                m.funding_call_regions.c.region_id == m.Region.id,
                or_(m.Region.slug == region, m.Region.code == "UK"),
            )
        )
    if funder_slug := f.get("funder"):
        query = query.where(funder.slug == funder_slug)
    if f.get("vcse") in {"1", "yes", "on", "true"}:
        query = query.where(m.FundingCall.requires_vcse_partner.is_(True))
    if fit.wants_suits(f):
        query = query.where(fit.suits_condition())
    weeks = _int(f.get("weeks"))
    if weeks is not None and 0 < weeks <= 104:
        query = query.where(
            m.FundingCall.next_deadline_at > now, m.FundingCall.next_deadline_at <= now + dt.timedelta(weeks=weeks)
        )
    # Amount filters: calls whose range reaches the amount asked for (unknown amounts are kept).
    min_amount = _amount(f.get("min_amount"))
    if min_amount is not None:
        query = query.where(or_(m.FundingCall.amount_max.is_(None), m.FundingCall.amount_max >= min_amount))
    max_amount = _amount(f.get("max_amount"))
    if max_amount is not None:
        query = query.where(or_(m.FundingCall.amount_min.is_(None), m.FundingCall.amount_min <= max_amount))
    return query


def list_calls(
    session: Session | Connection,
    params: ListParams,
    *,
    now: dt.datetime,
    public: bool = True,
    count: bool = False,
) -> Page:
    """One statement per page (two with ``count``); words in ``q`` go through the full-text index (capped, see
    crm.search).

    The public list without a search or "deadline within N weeks" (whose bound moves with the clock) depends on
    its filters alone once "still open" is the floor: built once per set of filters, bound per request (``shape``,
    crm/listing.py), and ``session`` may be a plain ``Connection`` (the API's public list opens no session)."""
    if public and not params.q and _int(params.filters.get("weeks")) is None:
        return fetch_page(
            session,
            lambda: list_query(params, now=now, public=True, open_floor=True),
            params,
            PUBLIC_SORTS,
            id_column=m.FundingCall.id,
            floor=(m.FundingCall.last_deadline_at, now),
            count=count,
            shape=("funding.public", tuple(sorted(params.filters.items()))),
            count_query=lambda: list_query(params, now=now, public=True, open_floor=True, ids_only=True),
            count_tables=counted_tables(params.filters),
        )
    if isinstance(session, Connection):  # a search reads in a session: on this connection, rolled back after
        with Session(bind=session) as own:
            return list_calls(own, params, now=now, public=public, count=count)
    query, sorts = searched_query(session, params, now=now, public=public)
    return fetch_page(session, query, params, sorts, id_column=m.FundingCall.id, count=count)


def counted_tables(filters: Mapping[str, Any]) -> tuple[str, ...]:
    """The tables the public list's count reads for these filters (``list_query(ids_only=True)``): the count is kept
    until one of them is written or the window turns (``crm.httpcache.kept``), so it names every one and no other.
    The same for every visitor: the public list names no one ("still open" moves with the clock, seen when the window
    turns, as the page's ETag already assumes)."""
    tables = ("funding_calls",)
    if filters.get("topic"):
        tables += ("funding_call_topics", "topics")
    if filters.get("region"):
        tables += ("funding_call_regions", "regions")
    if filters.get("funder"):
        tables += ("organisations",)
    return tables


def searched_query(
    session: Session, params: ListParams, *, now: dt.datetime, public: bool
) -> tuple[Select[Any], Sorts]:
    """The list's query with its search joined, and the sorts it offers (also every id a bulk action selects)."""
    sorts = PUBLIC_SORTS if public else ADMIN_SORTS
    query = list_query(params, now=now, public=public)
    found = search.matches(session, search.FUNDING_CALLS, params.q) if params.q else None
    if found is not None:
        query = query.join(found, found.c.id == m.FundingCall.id)
        sorts = sorts.with_relevance(found.c.score)
    return query, sorts


FUNDER_CHOICES = 300


def filter_choices(session: Session) -> dict[str, Any]:
    """Topics, regions and funders for the filter form (two small statements).

    The funder menu lists organisations of the funder kind that have calls (at most ``FUNDER_CHOICES``): checking
    every organisation for calls cost 26 ms a page with 5,000 organisations and a million calls, and a menu of
    thousands of names helps nobody. Calls from other kinds of organisation are still found by their name in the
    search box (the funder's name is part of a call's searchable text). Kept until one of their tables changes
    (``crm.httpcache.remember``)."""
    return remember(session, "funding.filter_choices", _CHOICE_TABLES, _filter_choices)


_CHOICE_TABLES = ("topics", "regions", "organisations", "funding_calls")


def _filter_choices(session: Session) -> dict[str, Any]:
    topics, regions = topics_and_regions(session)
    return {
        "topics": topics,
        "regions": regions,
        "funders": list(
            session.execute(
                select(m.Organisation.slug, m.Organisation.name)
                .where(
                    m.Organisation.kind == m.OrgKind.FUNDER,
                    exists().where(m.FundingCall.funder_id == m.Organisation.id),
                )
                .order_by(m.Organisation.name_normalised)
                .limit(FUNDER_CHOICES)
            )
        ),
    }


def form_menus(session: Session) -> dict[str, list[Any]]:
    """The call form's menus: funders (see ``funder_choices``), topics by name, regions in display order, and the
    words for whom a call suits (no statement)."""
    return {
        "funding_types": [(t.value, label) for t, label in fit.TYPE_LABELS.items()],
        "efforts": [(e.value, label) for e, label in fit.EFFORT_LABELS.items()],
        "answers": list(fit.ANSWER_LABELS.items()),
        "funders": funder_choices(session),
        "topics": list(session.execute(select(m.Topic.id, m.Topic.name).order_by(m.Topic.name))),
        "regions": list(session.execute(select(m.Region.id, m.Region.name).order_by(m.Region.position))),
    }


def ids_by_label(session: Session, model: type[m.Topic] | type[m.Region]) -> dict[str, int]:
    """Topic or region ids by lower-cased slug and name (and code, for regions): what API callers may send."""
    cols = [model.slug, model.name] + ([m.Region.code] if model is m.Region else [])
    found: dict[str, int] = {}
    for row in session.execute(select(model.id, *cols)):
        for v in row[1:]:
            found[str(v).lower()] = row[0]
    return found


def partnerships_for_call(session: Session, call_id: int) -> list[Any]:
    return list(
        session.execute(
            select(m.Partnership.id, m.Partnership.title, m.Partnership.stage)
            .where(m.Partnership.funding_call_id == call_id)
            .order_by(m.Partnership.title)
        )
    )


def funder_choices(session: Session) -> list[Any]:
    """Organisations that can fund: funders first, then any other organisation."""
    return list(
        session.execute(
            select(m.Organisation.id, m.Organisation.name, m.Organisation.kind).order_by(
                (m.Organisation.kind != m.OrgKind.FUNDER), m.Organisation.name_normalised
            )
        )
    )


def is_open(call: m.FundingCall, now: dt.datetime) -> bool:
    return call.status == m.CallStatus.PUBLISHED and call.last_deadline_at is not None and call.last_deadline_at > now


def upcoming_deadlines(call: m.FundingCall, now: dt.datetime) -> list[m.FundingCallDeadline]:
    return [d for d in call.deadlines if d.due_at > now]


def published_for_funder(session: Session, organisation_id: int, now: dt.datetime, limit: int = 20) -> list[Any]:
    return list(
        session.execute(
            select(m.FundingCall.title, m.FundingCall.slug, m.FundingCall.next_deadline_at, m.FundingCall.status)
            .where(
                m.FundingCall.funder_id == organisation_id,
                m.FundingCall.status == m.CallStatus.PUBLISHED,
                and_(m.FundingCall.last_deadline_at > now),
            )
            .order_by(m.FundingCall.next_deadline_at, m.FundingCall.id)
            .limit(limit)
        )
    )


def feed_calls(session: Session, now: dt.datetime, limit: int = 50) -> list[Any]:
    """The newest published calls still open (the feed): one statement, funder name joined; the columns of
    ``crm.funding.fit``'s rule so an entry can say the call suits small user-led groups."""
    query = (
        select(
            m.FundingCall.title,
            m.FundingCall.slug,
            m.FundingCall.summary,
            m.FundingCall.next_deadline_at,
            m.FundingCall.amount_min,
            m.FundingCall.amount_max,
            m.FundingCall.requires_vcse_partner,
            m.FundingCall.published_at,
            m.FundingCall.updated_at,
            m.FundingCall.funding_type,
            m.FundingCall.application_effort,
            m.FundingCall.open_to_unregistered,
            m.FundingCall.open_to_user_led,
            m.Organisation.name.label("funder_name"),
        )
        .join(m.Organisation, m.Organisation.id == m.FundingCall.funder_id)
        .where(m.FundingCall.status == m.CallStatus.PUBLISHED, m.FundingCall.last_deadline_at > now)
        .order_by(m.FundingCall.published_at.desc(), m.FundingCall.id.desc())
        .limit(limit)
    )
    return list(session.execute(query))
