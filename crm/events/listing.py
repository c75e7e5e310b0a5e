"""Event lists (public and admin) with the shared keyset list pattern: one statement per page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, Select, func, or_, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.listing import ListParams, Page, SortOption, Sorts, fetch_page

E = m.Event
PUBLIC_SORTS = Sorts(
    SortOption("soonest", "Soonest first", E.starts_at),
    SortOption("latest", "Latest first", E.starts_at, descending=True),
)
ADMIN_SORTS = Sorts(
    SortOption("newest", "Newest start first", E.starts_at, descending=True),
    SortOption("soonest", "Soonest start first", E.starts_at),
    SortOption("title", "Title", E.title),
)
ADMIN_FILTERS = ("status", "when")
# What the public list's count reads: it is kept until a write to it or the window turns (``crm.httpcache.kept``);
# the moment, its floor, moves on meanwhile, as the page's ETag already allows.
COUNTED = ("events",)


def _base_columns() -> Select[Any]:
    host = m.Organisation
    return select(
        E.id,
        E.slug,
        E.title,
        E.description,
        E.accessibility,
        E.starts_at,
        E.ends_at,
        E.all_day,
        E.venue,
        E.online_url,
        E.capacity,
        E.rsvp_deadline,
        E.status,
        E.sequence,
        E.uid,
        E.host_organisation_id,
        E.funding_call_id,
        E.allow_requests,
        E.vcse_min_percent,
        host.name.label("host_name"),
        host.slug.label("host_slug"),
    ).outerjoin(host, host.id == E.host_organisation_id)


def _search(query: Select[Any], q: str) -> Select[Any]:
    if not q:
        return query
    like = f"%{q.strip().lower()}%"
    return query.where(or_(func.lower(E.title).like(like), func.lower(E.venue).like(like)))


def public_list(session: Session | Connection, params: ListParams, now: dt.datetime, *, count: bool = False) -> Page:
    """Upcoming published events (the event has not ended); ``count`` adds the capped number of matches. ``session``
    may be a plain ``Connection`` (the API's public list opens no session).

    Without a search the statement is the same for every request: it is built once and bound per request
    (``shape``, crm/listing.py), the moment as the list's floor (``ends_at > now``), never part of the statement."""
    if not params.q:
        return fetch_page(
            session,
            _published,
            params,
            PUBLIC_SORTS,
            id_column=E.id,
            floor=(E.ends_at, now),
            count=count,
            shape=("events.public",),
            count_query=lambda: select(E.id).where(E.status == m.EventStatus.PUBLISHED),
            count_tables=COUNTED,
        )
    query = _search(_published().where(E.ends_at > now), params.q)
    return fetch_page(session, query, params, PUBLIC_SORTS, id_column=E.id, count=count)


def _published() -> Select[Any]:
    return _base_columns().where(E.status == m.EventStatus.PUBLISHED)


def admin_list(session: Session, params: ListParams, now: dt.datetime, *, count: bool = False) -> Page:
    return fetch_page(session, admin_query(params, now), params, ADMIN_SORTS, id_column=E.id, count=count)


def admin_query(params: ListParams, now: dt.datetime) -> Select[Any]:
    """The admin list's query: search and filters, answer counts (also every id a bulk action selects)."""
    yes = (
        select(func.count())
        .where(m.Invitation.event_id == E.id, m.Invitation.status == m.InvitationStatus.YES)
        .correlate(E)
        .scalar_subquery()
    )
    invited = select(func.count()).where(m.Invitation.event_id == E.id).correlate(E).scalar_subquery()
    query = _search(_base_columns().add_columns(yes.label("yes_count"), invited.label("invited_count")), params.q)
    status = params.filters.get("status")
    if status in {s.value for s in m.EventStatus}:
        query = query.where(E.status == status)
    when = params.filters.get("when")
    if when == "upcoming":
        query = query.where(E.ends_at > now)
    elif when == "past":
        query = query.where(E.ends_at <= now)
    return query
