"""The audit log view: filter by who, which record type, which action and when; keyset paged (one statement)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.listing import ListParams, Page, SortOption, Sorts, fetch_page
from crm.timefmt import LONDON

FILTERS = ("who", "entity", "action", "from", "to")
A = m.AuditEntry
SORTS = Sorts(
    SortOption("newest", "Newest first", A.id, descending=True),
    SortOption("oldest", "Oldest first", A.id),
)
ENTITY_CHOICES = (
    "contact",
    "organisation",
    "partnership",
    "funding_call",
    "event",
    "internship",
    "subscription",
    "suppression",
    "topic",
    "region",
    "contact_list",
    "user",
    "person",
    "privacy",
    "import",
)


def _day(raw: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        return None


def list_entries(session: Session, params: ListParams) -> tuple[Page, dict[str, str]]:
    """Returns the page and any messages for filters that could not be read (they are then ignored)."""
    f = params.filters
    errors: dict[str, str] = {}
    query = select(A.id, A.at, A.actor, A.action, A.entity, A.entity_id, A.summary, A.changes)
    if who := f.get("who"):
        query = query.where(func.lower(A.actor).contains(who.lower(), autoescape=True))
    if entity := f.get("entity"):
        query = query.where(A.entity == entity)
    if action := f.get("action"):
        query = query.where(func.lower(A.action) == action.lower())
    if params.q:
        query = query.where(func.lower(A.summary).contains(params.q.lower(), autoescape=True))
    for name in ("from", "to"):
        raw = f.get(name)
        if not raw:
            continue
        day = _day(raw)
        if day is None:
            errors[name] = "Enter a date like 2026-01-31."
            continue
        if name == "from":
            query = query.where(A.at >= dt.datetime.combine(day, dt.time(), LONDON).astimezone(dt.UTC))
        else:
            end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), LONDON).astimezone(dt.UTC)
            query = query.where(A.at < end)
    return fetch_page(session, query, params, SORTS, id_column=A.id), errors


def link_for(entity: str, entity_id: int | None) -> str | None:
    """Where the audited record lives in the admin, when it has a page."""
    if entity_id is None:
        return None
    paths: dict[str, Any] = {
        "contact": "/admin/contacts/{}",
        "organisation": "/admin/organisations/{}",
        "partnership": "/admin/partnerships/{}",
        "funding_call": "/admin/funding-calls/{}",
        "event": "/admin/events/{}",
        "internship": "/admin/internships/{}",
    }
    path = paths.get(entity)
    return path.format(entity_id) if path else None
