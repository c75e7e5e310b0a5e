"""Internship vocabulary and small pure rules: labels, money, the closing moment, who may manage what."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from crm import models as m
from crm.accounts.principal import Principal
from crm.errors import Forbidden
from crm.listing import SortOption, Sorts
from crm.timefmt import LONDON

I = m.Internship  # noqa: E741 - short alias for column expressions
Status = m.InternshipStatus

CONSENT_WORDING = (
    "I agree that Roundtable shares my name, email address and note with the host of this internship so they "
    "can contact me about it."
)
PUBLIC_STATUSES = (Status.PUBLISHED, Status.CLOSED, Status.FILLED)
REMINDER_LEAD = dt.timedelta(days=7)
FILTER_NAMES = ("direction", "topic", "region", "mode", "paid", "hours", "closing_within", "stage")
MULTI_FILTERS = ("topic", "region", "mode")
PERIOD_LABELS = {
    "hour": "an hour",
    "day": "a day",
    "week": "a week",
    "month": "a month",
    "year": "a year",
    "total": "in total",
}
STAGE_LABELS = {
    "student": "Student",
    "early-career-researcher": "Early career researcher",
    "established-researcher": "Established researcher",
    "practitioner": "Practitioner",
    "lived-experience-expert": "Lived experience expert",
    "other": "Other",
}

PUBLIC_SORTS = Sorts(
    SortOption("closing", "Closing soonest", I.closes_at),
    SortOption("newest", "Newest first", I.published_at, descending=True),
)
ADMIN_SORTS = Sorts(
    SortOption("updated", "Recently changed", I.updated_at, descending=True),
    SortOption("closing", "Closing soonest", I.closes_at),
    SortOption("title", "Title", I.title),
)


def closes_at_for(closing_date: dt.date) -> dt.datetime:
    """A listing closes at the end of its closing date in Europe/London (midnight that follows), in UTC."""
    midnight = dt.datetime.combine(closing_date + dt.timedelta(days=1), dt.time(0), tzinfo=LONDON)
    return midnight.astimezone(dt.UTC)


def london_today(now: dt.datetime) -> dt.date:
    return now.astimezone(LONDON).date()


def format_pence(pence: int) -> str:
    pounds, rest = divmod(pence, 100)
    return f"£{pounds:,}" if rest == 0 else f"£{pounds:,}.{rest:02d}"


def stipend_label(row: Any) -> str:
    """ "£250 a week" for paid placements, "Unpaid" said plainly otherwise."""
    if not row.paid:
        return "Unpaid"
    if row.stipend_pence is None:
        return "Paid"
    period = row.stipend_period.value if row.stipend_period is not None else ""
    return f"{format_pence(row.stipend_pence)} {PERIOD_LABELS.get(period, '')}".strip()


def stage_label(value: str) -> str:
    return STAGE_LABELS.get(value, value)


def is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(parts.netloc) and " " not in value


# ---------------------------------------------------------------------------------------------------------
# Permissions


def is_fellow(actor: Principal | None) -> bool:
    return actor is not None and actor.is_admin


def can_manage_org(actor: Principal | None, organisation_id: int) -> bool:
    if actor is None:
        return False
    if actor.is_admin:
        return True
    return (
        actor.has_role(m.Role.EDITOR) and actor.organisation_id is not None and actor.organisation_id == organisation_id
    )


def require_org(actor: Principal | None, organisation_id: int) -> None:
    if not can_manage_org(actor, organisation_id):
        raise Forbidden("You can only post and change internships for your own organisation.")


def require_fellow(actor: Principal | None) -> None:
    if not is_fellow(actor):
        raise Forbidden("Only the fellow can do this.")


def _text(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, list):
        raw = raw[-1] if raw else ""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return str(raw).replace("\r\n", "\n").strip()


def _list(raw: Any) -> list[str]:
    if raw is None or raw == "":
        return []
    values = raw if isinstance(raw, list | tuple) else [raw]
    return [str(v).strip() for v in values if str(v).strip()]


def _bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    return _text(raw).lower() in {"1", "on", "true", "yes", "paid"}


class TransitionError(ValueError):
    pass
