"""A listing's fields and the checks a submitted one must pass (the admin form and the API post the same names),
and the stored listing read back into them for the edit form."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.errors import FieldErrors
from crm.internships.queries import stages_of, topic_ids_of
from crm.internships.rules import STAGE_LABELS, _bool, _list, _text, is_http_url, london_today
from crm.validation import normalise_email, record_id


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


def _chosen_id(session: Session, model: Any, value: str) -> int | None:
    """The id a menu field sent, when a ``model`` row has it (a stale or forged choice is None)."""
    chosen = record_id(value)
    return chosen if chosen is not None and session.get(model, chosen) is not None else None


def validate(
    session: Session,
    raw: Mapping[str, Any],
    *,
    now: dt.datetime,
    existing: m.Internship | None = None,
    partial: bool = False,
    host_required: bool = True,
) -> InternshipData:
    """Check a submitted listing. ``partial`` (API PATCH) keeps the existing value of every absent field;
    ``host_required=False`` skips the host organisation menu (a host's public form names the organisation instead).

    Returns the cleaned data, or raises ``FieldErrors`` with a message for every bad field; nothing is written here.
    """
    errors: dict[str, str] = {}
    data = InternshipData()
    if existing is not None:
        data = current_data(session, existing)

    def given(name: str) -> bool:
        return not partial or name in raw

    def line(name: str, limit: int, message: str) -> str:
        value = _text(raw.get(name))
        if len(value) > limit or "\n" in value:
            errors[name] = message
        return value

    def choice(name: str, allowed: type[enum.Enum], message: str) -> str:
        value = _text(raw.get(name))
        if value not in {v.value for v in allowed}:
            errors[name] = message
        return value

    if given("title"):
        data.title = line("title", 200, "Use a single line of at most 200 characters.")
        if not data.title:
            errors["title"] = "Enter a title."
    if host_required and given("host_organisation_id"):
        value = _text(raw.get("host_organisation_id"))
        data.host_organisation_id = _chosen_id(session, m.Organisation, value)
        if not value:
            errors["host_organisation_id"] = "Choose the host organisation."
        elif data.host_organisation_id is None:
            errors["host_organisation_id"] = "Choose an organisation from the list."
    if given("direction"):
        data.direction = choice("direction", m.InternshipDirection, "Choose who the placement is for.")
    if given("description"):
        data.description = _text(raw.get("description"))
        if len(data.description) > 20_000:
            errors["description"] = "The description must be at most 20,000 characters."
    if given("region_id"):
        value = _text(raw.get("region_id"))
        data.region_id = _chosen_id(session, m.Region, value)
        if value and data.region_id is None:
            errors["region_id"] = "Choose a region from the list."
    if given("mode"):
        data.mode = choice("mode", m.InternshipMode, "Choose on-site, hybrid or remote.")
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
        data.duration = line("duration", 120, "Describe the duration in one short line, like “12 weeks”.")
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
        data.host_contact_name = line("host_contact_name", 200, "Use a single line of at most 200 characters.")
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
    if errors:
        raise FieldErrors(errors)
    return data


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
