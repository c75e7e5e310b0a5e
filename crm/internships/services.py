"""Internship rules: validation, who may change what, moderation, the public list, registrations of interest,
the closing job and the host reminder.

Who may do what:
- the fellow (admin role, or an admin API key) creates, edits, approves, rejects, closes, marks filled, reopens
  and deletes any listing, and sees every registration of interest;
- an editor (or an editor API key) is scoped to ``organisation_id``: they create and change listings only for
  that organisation (anything else is a 403), their new or changed listings wait for approval (``submitted``),
  they may close or mark filled their own listings and see their registrations of interest;
- everyone else sees published listings and the pages of closed/filled ones, never any personal data.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from litestar.exceptions import NotFoundException, PermissionDeniedException
from sqlalchemy import ColumnElement, and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.directory.reference import slugify
from crm.mailing.outbox import enqueue
from crm.mailing.render import EmailRenderer
from crm.timefmt import LONDON
from crm.web.auth import Principal
from crm.web.forms import normalise_email
from crm.web.listing import ListParams, Page, SortOption, Sorts, keyset_page

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


# ---------------------------------------------------------------------------------------------------------
# Small pure helpers (used by pages, emails, the feed and the API)


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
        raise PermissionDeniedException("You can only post and change internships for your own organisation.")


def require_fellow(actor: Principal | None) -> None:
    if not is_fellow(actor):
        raise PermissionDeniedException("Only the fellow can do this.")


# ---------------------------------------------------------------------------------------------------------
# Validation: one set of rules for the HTML form and the API


@dataclasses.dataclass(slots=True)
class InternshipData:
    title: str = ""
    host_organisation_id: int | None = None
    direction: str = ""
    description: str = ""
    region_id: int | None = None
    mode: str = ""
    paid: bool = False
    stipend_pence: int | None = None
    stipend_period: str | None = None
    hours_per_week: int | None = None
    duration: str = ""
    closing_date: dt.date | None = None
    apply_url: str = ""
    apply_email: str = ""
    host_contact_name: str = ""
    host_contact_email: str = ""
    topic_ids: list[int] = dataclasses.field(default_factory=list)
    career_stages: list[str] = dataclasses.field(default_factory=list)


FIELDS = [f.name for f in dataclasses.fields(InternshipData)]


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


def parse_money(raw: str) -> int | None:
    """Pounds as typed ("250", "£1,200.50") → pence; raises ValueError with a readable message."""
    cleaned = raw.replace("£", "").replace(",", "").strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:
        raise ValueError("Stipend must be an amount in pounds, like 250 or 250.50.") from exc
    if not value.is_finite():
        raise ValueError("Stipend must be an amount in pounds, like 250 or 250.50.")
    if value < 0:
        raise ValueError("Stipend cannot be negative.")
    if value == 0:
        raise ValueError("A paid placement needs a stipend above £0. Untick “paid” if it is unpaid.")
    if value > 1_000_000:
        raise ValueError("Stipend looks too large; enter the amount in pounds.")
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError("Stipend can have at most two decimal places.")
    return int(value * 100)


def validate(
    session: Session,
    raw: Mapping[str, Any],
    *,
    now: dt.datetime,
    existing: m.Internship | None = None,
    partial: bool = False,
) -> tuple[InternshipData, dict[str, str]]:
    """Check a submitted listing. ``partial`` (API PATCH) keeps the existing value of every absent field.

    Returns the cleaned data and ``{field: message}``; nothing is written here.
    """
    errors: dict[str, str] = {}
    data = InternshipData()
    if existing is not None:
        data = current_data(session, existing)

    def given(name: str) -> bool:
        return not partial or name in raw

    if given("title"):
        data.title = _text(raw.get("title"))
        if not data.title:
            errors["title"] = "Enter a title."
        elif len(data.title) > 200 or "\n" in data.title:
            errors["title"] = "Use a single line of at most 200 characters."
    if given("host_organisation_id"):
        value = _text(raw.get("host_organisation_id"))
        data.host_organisation_id = None
        if not value:
            errors["host_organisation_id"] = "Choose the host organisation."
        elif not value.isdigit() or session.get(m.Organisation, int(value)) is None:
            errors["host_organisation_id"] = "Choose an organisation from the list."
        else:
            data.host_organisation_id = int(value)
    if given("direction"):
        data.direction = _text(raw.get("direction"))
        if data.direction not in {d.value for d in m.InternshipDirection}:
            errors["direction"] = "Choose who the placement is for."
    if given("description"):
        data.description = _text(raw.get("description"))
        if len(data.description) > 20_000:
            errors["description"] = "The description must be at most 20,000 characters."
    if given("region_id"):
        value = _text(raw.get("region_id"))
        data.region_id = None
        if value:
            if not value.isdigit() or session.get(m.Region, int(value)) is None:
                errors["region_id"] = "Choose a region from the list."
            else:
                data.region_id = int(value)
    if given("mode"):
        data.mode = _text(raw.get("mode"))
        if data.mode not in {v.value for v in m.InternshipMode}:
            errors["mode"] = "Choose on-site, hybrid or remote."
    if given("paid"):
        data.paid = _bool(raw.get("paid"))
    if given("stipend_amount") or given("paid"):
        amount = _text(raw.get("stipend_amount")) if given("stipend_amount") else None
        if not data.paid:
            data.stipend_pence = None
            data.stipend_period = None
        elif amount is not None:
            if not amount:
                errors["stipend_amount"] = "Enter the stipend for a paid placement, in pounds."
                data.stipend_pence = None
            else:
                try:
                    data.stipend_pence = parse_money(amount)
                except ValueError as exc:
                    errors["stipend_amount"] = str(exc)
                    data.stipend_pence = None
        elif data.stipend_pence is None:
            errors["stipend_amount"] = "Enter the stipend for a paid placement, in pounds."
    if data.paid and (given("stipend_period") or given("paid")):
        period = _text(raw.get("stipend_period")) if given("stipend_period") else (data.stipend_period or "")
        if period not in {p.value for p in m.StipendPeriod}:
            errors["stipend_period"] = "Say whether the stipend is per hour, day, week, month, year or in total."
            data.stipend_period = None
        else:
            data.stipend_period = period
    if given("hours_per_week"):
        value = _text(raw.get("hours_per_week"))
        data.hours_per_week = None
        if value:
            try:
                hours = int(value)
            except ValueError:
                errors["hours_per_week"] = "Hours per week must be a whole number, like 15."
            else:
                if not 1 <= hours <= 60:
                    errors["hours_per_week"] = "Hours per week must be between 1 and 60."
                else:
                    data.hours_per_week = hours
    if given("duration"):
        data.duration = _text(raw.get("duration"))
        if len(data.duration) > 120 or "\n" in data.duration:
            errors["duration"] = "Describe the duration in one short line, like “12 weeks”."
    if given("closing_date"):
        value = _text(raw.get("closing_date"))
        try:
            closing = dt.date.fromisoformat(value) if value else None
        except ValueError:
            closing = None
            errors["closing_date"] = "Closing date must be a date like 2026-12-31."
        if value and closing is None:
            pass
        elif closing is None:
            errors["closing_date"] = "Enter a closing date."
        elif closing < london_today(now) and (existing is None or closing != existing.closing_date):
            errors["closing_date"] = "The closing date is in the past. Choose today or a later date."
        data.closing_date = closing
    if given("apply_url"):
        data.apply_url = _text(raw.get("apply_url"))
        if data.apply_url and (len(data.apply_url) > 500 or not is_http_url(data.apply_url)):
            errors["apply_url"] = "The application link must be a web address starting with http:// or https://."
    if given("apply_email"):
        value = _text(raw.get("apply_email"))
        data.apply_email = ""
        if value:
            try:
                data.apply_email = normalise_email(value)
            except ValueError as exc:
                errors["apply_email"] = str(exc)
                data.apply_email = value
    if not data.apply_url and not data.apply_email and "apply_url" not in errors and "apply_email" not in errors:
        errors["apply_url"] = "Say how to apply: an application web address, an email address, or both."
    if given("host_contact_name"):
        data.host_contact_name = _text(raw.get("host_contact_name"))
        if len(data.host_contact_name) > 200 or "\n" in data.host_contact_name:
            errors["host_contact_name"] = "Use a single line of at most 200 characters."
    if given("host_contact_email"):
        value = _text(raw.get("host_contact_email"))
        data.host_contact_email = value
        if not value:
            errors["host_contact_email"] = "Enter the email address that should receive registrations of interest."
        else:
            try:
                data.host_contact_email = normalise_email(value)
            except ValueError as exc:
                errors["host_contact_email"] = str(exc)
    if given("topic_ids"):
        values = _list(raw.get("topic_ids"))
        ids = sorted({int(v) for v in values if v.isdigit()})
        if len(ids) != len(set(values)) or (
            ids and len(session.scalars(select(m.Topic.id).where(m.Topic.id.in_(ids))).all()) != len(ids)
        ):
            errors["topic_ids"] = "Choose topics from the list."
        data.topic_ids = ids
    if given("career_stages"):
        values = _list(raw.get("career_stages"))
        if any(v not in STAGE_LABELS for v in values):
            errors["career_stages"] = "Choose career stages from the list."
        data.career_stages = sorted({v for v in values if v in STAGE_LABELS})
    return data, errors


def current_data(session: Session, internship: m.Internship) -> InternshipData:
    return InternshipData(
        title=internship.title,
        host_organisation_id=internship.host_organisation_id,
        direction=internship.direction.value,
        description=internship.description,
        region_id=internship.region_id,
        mode=internship.mode.value,
        paid=internship.paid,
        stipend_pence=internship.stipend_pence,
        stipend_period=internship.stipend_period.value if internship.stipend_period else None,
        hours_per_week=internship.hours_per_week,
        duration=internship.duration,
        closing_date=internship.closing_date,
        apply_url=internship.apply_url,
        apply_email=internship.apply_email,
        host_contact_name=internship.host_contact_name,
        host_contact_email=internship.host_contact_email,
        topic_ids=topic_ids_of(session, internship.id),
        career_stages=stages_of(session, internship.id),
    )


def form_values(data: InternshipData) -> dict[str, Any]:
    """What an edit form shows for stored data (the same names the form posts)."""
    values = dataclasses.asdict(data)
    values["stipend_amount"] = "" if data.stipend_pence is None else f"{Decimal(data.stipend_pence) / 100:.2f}"
    values["stipend_period"] = data.stipend_period or ""
    values["closing_date"] = data.closing_date.isoformat() if data.closing_date else ""
    values["paid"] = "1" if data.paid else ""
    for key in ("host_organisation_id", "region_id", "hours_per_week"):
        values[key] = "" if values[key] is None else str(values[key])
    values["topic_ids"] = [str(t) for t in data.topic_ids]
    return values


def topic_ids_of(session: Session, internship_id: int) -> list[int]:
    return sorted(
        session.scalars(
            select(m.internship_topics.c.topic_id).where(m.internship_topics.c.internship_id == internship_id)
        )
    )


def stages_of(session: Session, internship_id: int) -> list[str]:
    return sorted(
        session.scalars(
            select(m.internship_career_stages.c.stage).where(
                m.internship_career_stages.c.internship_id == internship_id
            )
        )
    )


# ---------------------------------------------------------------------------------------------------------
# Writing


def _snapshot(data: InternshipData, status: str) -> dict[str, Any]:
    snap = dataclasses.asdict(data)
    snap["closing_date"] = data.closing_date.isoformat() if data.closing_date else None
    snap["status"] = status
    # The host contact is personal data: the audit trail says it changed, not what it was.
    snap["host_contact_email"] = "(set)" if data.host_contact_email else ""
    snap["host_contact_name"] = "(set)" if data.host_contact_name else ""
    return snap


RESERVED_SLUGS = {"offer", "feed", "new"}  # paths under /internships/ that are pages, not listings


def _unique_slug(session: Session, title: str, exclude_id: int | None = None) -> str:
    base = slugify(title, max_length=200)
    if base in RESERVED_SLUGS:
        base = f"{base}-internship"
    candidate, n = base, 1
    while True:
        query = select(I.id).where(I.slug == candidate)
        if exclude_id is not None:
            query = query.where(I.id != exclude_id)
        if session.scalar(query) is None:
            return candidate
        n += 1
        candidate = f"{base}-{n}"


def _apply(session: Session, internship: m.Internship, data: InternshipData) -> None:
    assert data.host_organisation_id is not None and data.closing_date is not None
    if internship.closing_date != data.closing_date:
        internship.reminder_sent_at = None  # a new closing date deserves a new reminder
    internship.title = data.title
    internship.host_organisation_id = data.host_organisation_id
    internship.direction = m.InternshipDirection(data.direction)
    internship.description = data.description
    internship.region_id = data.region_id
    internship.mode = m.InternshipMode(data.mode)
    internship.paid = data.paid
    internship.stipend_pence = data.stipend_pence if data.paid else None
    internship.stipend_period = m.StipendPeriod(data.stipend_period) if data.paid and data.stipend_period else None
    internship.hours_per_week = data.hours_per_week
    internship.duration = data.duration
    internship.closing_date = data.closing_date
    internship.closes_at = closes_at_for(data.closing_date)
    internship.apply_url = data.apply_url
    internship.apply_email = data.apply_email
    internship.host_contact_name = data.host_contact_name
    internship.host_contact_email = data.host_contact_email
    session.flush()
    session.execute(delete(m.internship_topics).where(m.internship_topics.c.internship_id == internship.id))
    if data.topic_ids:
        session.execute(
            insert(m.internship_topics), [{"internship_id": internship.id, "topic_id": t} for t in data.topic_ids]
        )
    session.execute(
        delete(m.internship_career_stages).where(m.internship_career_stages.c.internship_id == internship.id)
    )
    if data.career_stages:
        session.execute(
            insert(m.internship_career_stages),
            [{"internship_id": internship.id, "stage": s} for s in data.career_stages],
        )


def create_internship(
    session: Session, actor: Principal, data: InternshipData, *, now: dt.datetime, publish: bool = False
) -> m.Internship:
    """The fellow's listings are drafts or published (``publish``); an editor's wait for approval."""
    assert data.host_organisation_id is not None
    require_org(actor, data.host_organisation_id)
    internship = m.Internship(
        title=data.title,
        slug=_unique_slug(session, data.title),
        host_organisation_id=data.host_organisation_id,
        direction=m.InternshipDirection(data.direction),
        mode=m.InternshipMode(data.mode),
        closing_date=data.closing_date,
        closes_at=closes_at_for(data.closing_date),  # type: ignore[arg-type]
        created_by_user_id=actor.id if actor.id > 0 else None,
    )
    if is_fellow(actor):
        internship.status = Status.PUBLISHED if publish else Status.DRAFT
        if publish:
            internship.published_at = now
            internship.reviewed_at = now
    else:
        internship.status = Status.SUBMITTED if publish else Status.DRAFT
        if publish:
            internship.submitted_at = now
    session.add(internship)
    session.flush()
    _apply(session, internship, data)
    audit.record(
        session,
        actor,
        "create",
        "internship",
        internship.id,
        summary=f"{internship.title} ({internship.status.value})",
        changes=audit.diff({}, _snapshot(data, internship.status.value)),
    )
    return internship


def update_internship(
    session: Session, actor: Principal, internship: m.Internship, data: InternshipData, *, now: dt.datetime
) -> m.Internship:
    require_org(actor, internship.host_organisation_id)
    assert data.host_organisation_id is not None
    require_org(actor, data.host_organisation_id)  # an editor cannot move a listing to another organisation
    before = _snapshot(current_data(session, internship), internship.status.value)
    if internship.slug and data.title != internship.title and internship.status in (Status.DRAFT, Status.SUBMITTED):
        internship.slug = _unique_slug(session, data.title, exclude_id=internship.id)
    _apply(session, internship, data)
    if not is_fellow(actor) and internship.status == Status.PUBLISHED:
        # An editor's change to a live listing goes back to the fellow before the public sees it.
        internship.status = Status.SUBMITTED
        internship.submitted_at = now
    after = _snapshot(data, internship.status.value)
    changes = audit.diff(before, after)
    if changes:
        audit.record(session, actor, "update", "internship", internship.id, summary=internship.title, changes=changes)
    return internship


TRANSITIONS: dict[str, tuple[tuple[Status, ...], Status, bool]] = {
    # action: (allowed from, to, fellow only)
    "submit": ((Status.DRAFT,), Status.SUBMITTED, False),
    "approve": ((Status.SUBMITTED, Status.DRAFT), Status.PUBLISHED, True),
    "reject": ((Status.SUBMITTED,), Status.DRAFT, True),
    "close": ((Status.PUBLISHED, Status.SUBMITTED, Status.DRAFT), Status.CLOSED, False),
    "filled": ((Status.PUBLISHED, Status.CLOSED), Status.FILLED, False),
    "reopen": ((Status.CLOSED, Status.FILLED), Status.PUBLISHED, True),
}


class TransitionError(ValueError):
    pass


def transition(
    session: Session,
    actor: Principal | None,
    internship: m.Internship,
    action: str,
    *,
    now: dt.datetime,
    note: str = "",
) -> m.Internship:
    if action not in TRANSITIONS:
        raise TransitionError("Unknown action.")
    sources, target, fellow_only = TRANSITIONS[action]
    if actor is not None:
        require_org(actor, internship.host_organisation_id)
        if fellow_only:
            require_fellow(actor)
    if internship.status not in sources:
        raise TransitionError(f"A {internship.status.value} listing cannot be changed this way.")
    if target == Status.PUBLISHED and internship.closes_at <= now:
        raise TransitionError("The closing date has passed. Change the closing date first, then publish.")
    before = internship.status.value
    internship.status = target
    if target == Status.PUBLISHED:
        internship.published_at = internship.published_at or now
        internship.reviewed_at = now
        internship.review_note = note[:1000]
        internship.closed_at = None
    elif action == "reject":
        internship.reviewed_at = now
        internship.review_note = note[:1000]
    elif action == "submit":
        internship.submitted_at = now
    elif target in (Status.CLOSED, Status.FILLED):
        internship.closed_at = internship.closed_at or now
    changes = {"status": [before, target.value]}
    if note:
        changes["review_note"] = [None, note[:1000]]
    audit.record(session, actor, action, "internship", internship.id, summary=internship.title, changes=changes)
    return internship


def delete_internship(session: Session, actor: Principal, internship: m.Internship) -> None:
    require_org(actor, internship.host_organisation_id)
    audit.record(
        session,
        actor,
        "delete",
        "internship",
        internship.id,
        summary=internship.title,
        changes={"status": [internship.status.value, None]},
    )
    session.delete(internship)
    session.flush()


# ---------------------------------------------------------------------------------------------------------
# Reading


def get_internship(session: Session, internship_id: int) -> m.Internship:
    internship = session.get(m.Internship, internship_id)
    if internship is None:
        raise NotFoundException("No such internship.")
    return internship


def _detail_query() -> Any:
    return (
        select(
            I,
            m.Organisation.name.label("host_name"),
            m.Organisation.slug.label("host_slug"),
            m.Organisation.website.label("host_website"),
            m.Organisation.visibility.label("host_visibility"),
            m.Region.name.label("region_name"),
            m.Region.code.label("region_code"),
        )
        .join(m.Organisation, m.Organisation.id == I.host_organisation_id)
        .outerjoin(m.Region, m.Region.id == I.region_id)
    )


@dataclasses.dataclass(slots=True)
class Detail:
    internship: m.Internship
    host_name: str
    host_slug: str
    host_website: str
    host_public: bool
    region_name: str
    region_code: str
    topics: list[Any]
    stages: list[str]

    @property
    def is_open(self) -> bool:
        return self.internship.status == Status.PUBLISHED

    @property
    def stipend(self) -> str:
        return stipend_label(self.internship)


def _detail(session: Session, where: ColumnElement[bool]) -> Detail | None:
    row = session.execute(_detail_query().where(where)).first()
    if row is None:
        return None
    internship = row[0]
    topics = list(
        session.execute(
            select(m.Topic.id, m.Topic.name, m.Topic.slug)
            .join(m.internship_topics, m.internship_topics.c.topic_id == m.Topic.id)
            .where(m.internship_topics.c.internship_id == internship.id)
            .order_by(m.Topic.name)
        )
    )
    return Detail(
        internship=internship,
        host_name=row.host_name,
        host_slug=row.host_slug,
        host_website=row.host_website or "",
        host_public=row.host_visibility == m.Visibility.PUBLIC,
        region_name=row.region_name or "",
        region_code=row.region_code or "",
        topics=topics,
        stages=stages_of(session, internship.id),
    )


def public_detail(session: Session, slug: str, *, now: dt.datetime | None = None) -> Detail:
    detail = _detail(session, and_(I.slug == slug, I.status.in_(PUBLIC_STATUSES)))
    if detail is None:
        raise NotFoundException("We could not find that internship. It may have been removed.")
    return detail


def admin_detail(session: Session, actor: Principal, internship_id: int) -> Detail:
    detail = _detail(session, I.id == internship_id)
    if detail is None:
        raise NotFoundException("No such internship.")
    require_org(actor, detail.internship.host_organisation_id)
    return detail


def _card_columns() -> list[Any]:
    return [
        I.id,
        I.title,
        I.slug,
        I.direction,
        I.mode,
        I.paid,
        I.stipend_pence,
        I.stipend_period,
        I.hours_per_week,
        I.duration,
        I.closing_date,
        I.closes_at,
        I.published_at,
        I.status,
        m.Organisation.name.label("host_name"),
        m.Region.name.label("region_name"),
    ]


def _search(query: Any, q: str) -> Any:
    for word in q.lower().split()[:8]:
        query = query.where(
            or_(
                func.lower(I.title).contains(word, autoescape=True),
                func.lower(I.description).contains(word, autoescape=True),
                func.lower(m.Organisation.name).contains(word, autoescape=True),
            )
        )
    return query


@dataclasses.dataclass(frozen=True, slots=True)
class Filters:
    """Public list / alert filters, already validated (bad values are dropped, never an error page)."""

    direction: str = ""
    topics: tuple[str, ...] = ()  # topic slugs
    regions: tuple[str, ...] = ()  # region slugs
    modes: tuple[str, ...] = ()
    paid: str = ""  # "paid" | "unpaid" | ""
    max_hours: int | None = None
    closing_within_weeks: int | None = None
    stage: str = ""

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Filters:
        def one(name: str) -> str:
            return _text(raw.get(name))[:100]

        def positive(name: str, top: int) -> int | None:
            value = one(name)
            return int(value) if value.isdigit() and 1 <= int(value) <= top else None

        direction = one("direction")
        paid = one("paid")
        stage = one("stage")
        return cls(
            direction=direction if direction in {d.value for d in m.InternshipDirection} else "",
            topics=tuple(dict.fromkeys(_list(raw.get("topic"))))[:30],
            regions=tuple(dict.fromkeys(_list(raw.get("region"))))[:20],
            modes=tuple(v for v in dict.fromkeys(_list(raw.get("mode"))) if v in {x.value for x in m.InternshipMode}),
            paid=paid if paid in {"paid", "unpaid"} else "",
            max_hours=positive("hours", 60),
            closing_within_weeks=positive("closing_within", 52),
            stage=stage if stage in STAGE_LABELS else "",
        )

    def as_query(self) -> dict[str, Any]:
        """The URL parameters for these filters (the same names the list page reads)."""
        return {
            "direction": self.direction,
            "topic": list(self.topics),
            "region": list(self.regions),
            "mode": list(self.modes),
            "paid": self.paid,
            "hours": self.max_hours or "",
            "closing_within": self.closing_within_weeks or "",
            "stage": self.stage,
        }

    @property
    def active(self) -> bool:
        return any(v for v in self.as_query().values())


def apply_filters(
    query: Any,
    filters: Filters,
    *,
    now: dt.datetime,
    topic_ids: Sequence[int] | None = None,
    region_ids: Sequence[int] | None = None,
) -> Any:
    """Filters as SQL conditions (no extra statements: topics and regions are sub-selects)."""
    if filters.direction:
        query = query.where(I.direction == filters.direction)
    if filters.modes:
        query = query.where(I.mode.in_(filters.modes))
    if filters.paid == "paid":
        query = query.where(I.paid.is_(True))
    elif filters.paid == "unpaid":
        query = query.where(I.paid.is_(False))
    if filters.max_hours:
        query = query.where(I.hours_per_week <= filters.max_hours)
    if filters.closing_within_weeks:
        query = query.where(I.closes_at <= now + dt.timedelta(weeks=filters.closing_within_weeks))
    if filters.stage:
        stages = m.internship_career_stages.c
        any_stage = exists().where(stages.internship_id == I.id)
        this_stage = exists().where(stages.internship_id == I.id, stages.stage == filters.stage)
        query = query.where(or_(this_stage, ~any_stage))  # no stages listed = open to every career stage
    topic_cond = None
    if filters.topics:
        topic_cond = m.internship_topics.c.topic_id.in_(select(m.Topic.id).where(m.Topic.slug.in_(filters.topics)))
    if topic_ids:
        ids_cond = m.internship_topics.c.topic_id.in_(list(topic_ids))
        topic_cond = ids_cond if topic_cond is None else and_(topic_cond, ids_cond)
    if topic_cond is not None:
        query = query.where(exists().where(m.internship_topics.c.internship_id == I.id, topic_cond))
    region_conds = []
    if filters.regions:
        region_conds.append(I.region_id.in_(select(m.Region.id).where(m.Region.slug.in_(filters.regions))))
    if region_ids:
        region_conds.append(I.region_id.in_(list(region_ids)))
    if region_conds:
        uk_wide = I.region_id.in_(select(m.Region.id).where(m.Region.code == "UK"))
        query = query.where(or_(and_(*region_conds), uk_wide))  # UK-wide listings fit every region
    return query


def public_list(session: Session, params: ListParams, *, now: dt.datetime) -> Page:
    """Published listings whose closing date has not passed: one statement whatever the page size."""
    filters = Filters.from_mapping(params.filters)
    query = (
        select(*_card_columns())
        .join(m.Organisation, m.Organisation.id == I.host_organisation_id)
        .outerjoin(m.Region, m.Region.id == I.region_id)
        .where(I.status == Status.PUBLISHED, I.closes_at > now)
    )
    query = apply_filters(query, filters, now=now)
    if params.q:
        query = _search(query, params.q)
    return keyset_page(
        session,
        query,
        sort=PUBLIC_SORTS.pick(params.sort),
        id_column=I.id,
        cursor=params.cursor,
        page_size=params.page_size,
    )


def admin_list(session: Session, actor: Principal, params: ListParams) -> Page:
    """The fellow sees every listing, an editor their organisation's; with interest counts, one statement."""
    counts = (
        select(func.count(m.InternshipInterest.id))
        .where(m.InternshipInterest.internship_id == I.id)
        .correlate(I)
        .scalar_subquery()
    )
    query = (
        select(*_card_columns(), I.updated_at, counts.label("interest_count"))
        .join(m.Organisation, m.Organisation.id == I.host_organisation_id)
        .outerjoin(m.Region, m.Region.id == I.region_id)
    )
    if not is_fellow(actor):
        query = query.where(I.host_organisation_id == (actor.organisation_id or -1))
    status = _text(params.filters.get("status"))
    if status in {s.value for s in Status}:
        query = query.where(I.status == status)
    if params.q:
        query = _search(query, params.q)
    return keyset_page(
        session,
        query,
        sort=ADMIN_SORTS.pick(params.sort),
        id_column=I.id,
        cursor=params.cursor,
        page_size=params.page_size,
    )


def filter_options(session: Session) -> tuple[list[Any], list[Any]]:
    topics = list(session.execute(select(m.Topic.id, m.Topic.slug, m.Topic.name).order_by(m.Topic.name)))
    regions = list(session.execute(select(m.Region.id, m.Region.slug, m.Region.name).order_by(m.Region.position)))
    return topics, regions


def organisation_choices(session: Session, actor: Principal) -> list[Any]:
    query = select(m.Organisation.id, m.Organisation.name).order_by(m.Organisation.name_normalised)
    if not is_fellow(actor):
        query = query.where(m.Organisation.id == (actor.organisation_id or -1))
    return list(session.execute(query.limit(2000)))


def open_listings(session: Session, *, now: dt.datetime, limit: int = 50) -> list[Any]:
    """The newest published, open listings (the feed)."""
    query = (
        select(*_card_columns(), I.description, I.updated_at)
        .join(m.Organisation, m.Organisation.id == I.host_organisation_id)
        .outerjoin(m.Region, m.Region.id == I.region_id)
        .where(I.status == Status.PUBLISHED, I.closes_at > now)
        .order_by(I.published_at.desc(), I.id.desc())
        .limit(limit)
    )
    return list(session.execute(query))


# ---------------------------------------------------------------------------------------------------------
# Registrations of interest (personal data)


@dataclasses.dataclass(frozen=True, slots=True)
class InterestResult:
    created: bool
    interest_id: int | None


def _insert_ignore(session: Session) -> Any:
    table = m.InternshipInterest.__table__
    dialect = session.get_bind().dialect.name
    elements = ["internship_id", "email"]
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=elements)
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=elements)
    return insert(table)


def validate_interest(raw: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    errors: dict[str, str] = {}
    name = _text(raw.get("name"))
    if not name:
        errors["name"] = "Enter your name."
    elif len(name) > 200 or "\n" in name:
        errors["name"] = "Use a single line of at most 200 characters for your name."
    email = _text(raw.get("email"))
    try:
        email = normalise_email(email)
    except ValueError as exc:
        errors["email"] = str(exc)
    note = _text(raw.get("note"))
    if len(note) > 1000:
        errors["note"] = f"Keep the note to 1,000 characters (it has {len(note)})."
    if not _bool(raw.get("consent")):
        errors["consent"] = (
            "Tick the box to agree that we share your details with the host. We cannot pass on your interest without it."
        )
    return {"name": name, "email": email, "note": note}, errors


def register_interest(
    session: Session,
    renderer: EmailRenderer,
    internship: m.Internship,
    *,
    name: str,
    email: str,
    note: str,
    host_name: str,
    base_url: str,
    now: dt.datetime,
) -> InterestResult:
    """One record per (internship, email): a second registration changes nothing and sends nothing."""
    if internship.status != Status.PUBLISHED or internship.closes_at <= now:
        raise TransitionError("This internship is no longer taking registrations of interest.")
    row = session.execute(
        _insert_ignore(session)
        .values(
            internship_id=internship.id,
            name=name,
            email=email,
            note=note,
            consent_wording=CONSENT_WORDING,
            consented_at=now,
            created_at=now,
        )
        .returning(m.InternshipInterest.id)
    ).first()
    if row is None:
        return InterestResult(created=False, interest_id=None)
    to = internship.host_contact_email
    if to:
        enqueue(
            session,
            renderer,
            key=f"internship-interest:{internship.id}:{email}",
            kind="internship_interest",
            to=to,
            to_name=internship.host_contact_name,
            template="internship_interest",
            context={
                "internship_title": internship.title,
                "host_name": host_name,
                "contact_name": internship.host_contact_name,
                "name": name,
                "email": email,
                "note": note,
                "admin_url": f"{base_url.rstrip('/')}/admin/internships/{internship.id}",
            },
        )
    return InterestResult(created=True, interest_id=row[0])


def interests_for(session: Session, actor: Principal, internship: m.Internship) -> list[Any]:
    require_org(actor, internship.host_organisation_id)
    return list(
        session.execute(
            select(
                m.InternshipInterest.id,
                m.InternshipInterest.name,
                m.InternshipInterest.email,
                m.InternshipInterest.note,
                m.InternshipInterest.created_at,
            )
            .where(m.InternshipInterest.internship_id == internship.id)
            .order_by(m.InternshipInterest.id)
        )
    )


def erase_interests(session: Session, email: str) -> int:
    """Erasure on request (UK GDPR): remove every registration of interest made with ``email``."""
    result = session.execute(delete(m.InternshipInterest).where(m.InternshipInterest.email == email.strip().lower()))
    return result.rowcount or 0


def export_interests(session: Session, email: str) -> list[dict[str, Any]]:
    """Subject access: every registration of interest made with ``email``."""
    rows = session.execute(
        select(m.InternshipInterest.name, m.InternshipInterest.note, m.InternshipInterest.created_at, I.title)
        .join(I, I.id == m.InternshipInterest.internship_id)
        .where(m.InternshipInterest.email == email.strip().lower())
        .order_by(m.InternshipInterest.id)
    )
    return [
        {"internship": r.title, "name": r.name, "note": r.note, "registered_at": r.created_at.isoformat()} for r in rows
    ]


# ---------------------------------------------------------------------------------------------------------
# Jobs


def close_expired(session: Session, *, now: dt.datetime) -> int:
    """Published listings whose closing date has passed become closed (their page stays). Constant statements."""
    ids = list(session.scalars(select(I.id).where(I.status == Status.PUBLISHED, I.closes_at <= now)))
    if not ids:
        return 0
    session.execute(
        update(I)
        .where(I.id.in_(ids), I.status == Status.PUBLISHED)
        .values(status=Status.CLOSED, closed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        insert(m.AuditEntry),
        [
            {
                "at": now,
                "actor": "system",
                "action": "close",
                "entity": "internship",
                "entity_id": i,
                "summary": "Closed automatically at the closing date",
                "changes": {"status": ["published", "closed"]},
            }
            for i in ids
        ],
    )
    return len(ids)


FILLED_LINK_DAYS = 60


def send_closing_reminders(
    session: Session, renderer: EmailRenderer, signer: Any, base_url: str, *, now: dt.datetime
) -> int:
    """A week before the closing date, ask the host whether the placement is filled (once per closing date)."""
    rows = list(
        session.execute(
            select(I, m.Organisation.name.label("host_name"))
            .join(m.Organisation, m.Organisation.id == I.host_organisation_id)
            .where(
                I.status == Status.PUBLISHED,
                I.reminder_sent_at.is_(None),
                I.closes_at > now,
                I.closes_at <= now + REMINDER_LEAD,
                I.host_contact_email != "",
            )
            .order_by(I.id)
            .limit(500)
        )
    )
    sent = 0
    for internship, host_name in rows:
        token = signer.sign("internship-host", {"i": internship.id, "c": internship.closing_date.isoformat()})
        enqueue(
            session,
            renderer,
            key=f"internship-reminder:{internship.id}:{internship.closing_date.isoformat()}",
            kind="internship_reminder",
            to=internship.host_contact_email,
            to_name=internship.host_contact_name,
            template="internship_reminder",
            context={
                "internship_title": internship.title,
                "host_name": host_name,
                "contact_name": internship.host_contact_name,
                "closing_date": internship.closing_date,
                "host_url": f"{base_url.rstrip('/')}/internships/{internship.slug}/host?token={token}",
                "page_url": f"{base_url.rstrip('/')}/internships/{internship.slug}",
            },
        )
        internship.reminder_sent_at = now
        sent += 1
    session.flush()
    return sent


def host_token_internship(session: Session, signer: Any, token: str) -> m.Internship:
    """The listing a host's emailed "is it filled?" link is for; raises ``TokenError`` or ``NotFoundException``."""
    payload = signer.verify("internship-host", token)
    internship = session.get(m.Internship, int(payload["i"])) if isinstance(payload, dict) else None
    if internship is None:
        raise NotFoundException("That internship no longer exists.")
    return internship


SLUG_RE = re.compile(r"^[a-z0-9-]{1,240}$")


# ---------------------------------------------------------------------------------------------------------
# Moderation emails (transactional, in the same transaction as the change)


def notify_submitted(session: Session, renderer: EmailRenderer, internship: m.Internship, base_url: str) -> int:
    """Tell the fellow (every active admin) that a listing waits for approval. Once per submission."""
    if internship.status != Status.SUBMITTED or internship.submitted_at is None:
        return 0
    host = session.scalar(select(m.Organisation.name).where(m.Organisation.id == internship.host_organisation_id))
    admins = session.execute(
        select(m.User.email, m.User.name).where(m.User.role == m.Role.ADMIN, m.User.is_active.is_(True)).limit(20)
    ).all()
    stamp = internship.submitted_at.strftime("%Y%m%dT%H%M%S%f")
    for email, name in admins:
        enqueue(
            session,
            renderer,
            key=f"internship-submitted:{internship.id}:{stamp}:{email}",
            kind="internship_submitted",
            to=email,
            to_name=name,
            template="internship_submitted",
            context={
                "internship_title": internship.title,
                "host_name": host or "",
                "admin_url": f"{base_url.rstrip('/')}/admin/internships/{internship.id}",
            },
        )
    return len(admins)


def notify_reviewed(
    session: Session, renderer: EmailRenderer, internship: m.Internship, action: str, base_url: str
) -> bool:
    """Tell the editor who posted a listing that the fellow approved it or returned it (with the note)."""
    if action not in {"approve", "reject"} or internship.created_by_user_id is None or internship.reviewed_at is None:
        return False
    poster = session.execute(
        select(m.User.email, m.User.name, m.User.role).where(m.User.id == internship.created_by_user_id)
    ).first()
    if poster is None or poster.role == m.Role.ADMIN:
        return False
    base = base_url.rstrip("/")
    enqueue(
        session,
        renderer,
        key=f"internship-reviewed:{internship.id}:{action}:{internship.reviewed_at.strftime('%Y%m%dT%H%M%S%f')}",
        kind="internship_reviewed",
        to=poster.email,
        to_name=poster.name,
        template="internship_reviewed",
        context={
            "internship_title": internship.title,
            "approved": action == "approve",
            "note": internship.review_note,
            "page_url": f"{base}/internships/{internship.slug}",
            "admin_url": f"{base}/admin/internships/{internship.id}",
        },
    )
    return True
