"""Opportunities for tests: a valid form to start from, and rows written through ``crm.involvement.editing``."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sqlalchemy.orm import Session

from crm import models as m
from crm.involvement import editing
from crm.involvement.rules import london_today
from tests.factories import region_id

_seq = itertools.count(1)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def today() -> dt.date:
    return london_today(now())


def valid_form(**changes: Any) -> dict[str, Any]:
    """What a filled-in form sends for a paid, online advisory role closing in 30 days."""
    form: dict[str, Any] = {
        "title": f"Advisory group on crisis care {next(_seq)}",
        "kind": "advisory-group",
        "summary": "Help us shape a study of crisis care.",
        "lived_experience_sought": "You have used crisis services in the last five years.",
        "what_you_will_do": "Join four online meetings a year and read short papers beforehand.",
        "region_id": "",
        "online": "1",
        "paid": "1",
        "payment_amount": "25",
        "payment_basis": "meeting",
        "expenses_covered": "1",
        "payment_note": "",
        "commitment": "ongoing",
        "time_commitment": "Two hours, four times a year",
        "accessibility_support": "Papers in easy read on request; cameras optional.",
        "how_to_express_interest": "",
        "closing_date": (today() + dt.timedelta(days=30)).isoformat(),
        "contact_name": "Dr Sam Poster",
        "contact_email": "poster@example.org",
        "topic_ids": [],
    }
    form.update(changes)
    return form


def make_opportunity(
    db: Session,
    *,
    status: m.OpportunityStatus = m.OpportunityStatus.PUBLISHED,
    region: str | None = None,
    days: int = 30,
    **changes: Any,
) -> m.InvolvementOpportunity:
    """A row through the one writer (``editing.create``); ``days`` from today to the closing date (may be past)."""
    form = valid_form(**changes)
    if region is not None:
        form["region_id"] = str(region_id(db, region))
    closing = today() + dt.timedelta(days=days)
    form["closing_date"] = max(closing, today()).isoformat()
    data, errors = editing.validate(db, form, today=today())
    assert data is not None, errors
    data.closing_date = closing
    return editing.create(db, data, status=status)
