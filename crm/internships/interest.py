"""Registrations of interest: personal data, seen only by the fellow and the host organisation's editors."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from email.utils import formataddr
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.principal import Principal
from crm.errors import FieldErrors
from crm.internships.interest_status import interest_rows
from crm.internships.lifecycle import email_host
from crm.internships.rules import CONSENT_WORDING, Status, TransitionError, _bool, _text, require_org
from crm.mailing.outbox import enqueue
from crm.mailing.render import EmailRenderer
from crm.timefmt import format_date
from crm.validation import normalise_email


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


def validate_interest(raw: Mapping[str, Any]) -> dict[str, str]:
    """The cleaned ``name``, ``email`` and ``note``; raises ``FieldErrors`` with a message for every bad field."""
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
    if errors:
        raise FieldErrors(errors)
    return {"name": name, "email": email, "note": note}


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
    manage_url: str = "",
) -> InterestResult:
    """One record per (internship, email): a second registration changes nothing and sends nothing.

    ``manage_url`` is the host's private manage link (a host who posted without an account): their email links
    there instead of to the admin page, which needs a sign-in they do not have."""
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
    if internship.host_contact_email:
        email_host(
            session,
            renderer,
            internship,
            host_name,
            key=f"internship-interest:{internship.id}:{email}",
            kind="internship_interest",
            reply_to=formataddr((name, email)),
            name=name,
            email=email,
            note=note,
            admin_url=f"{base_url.rstrip('/')}/admin/internships/{internship.id}",
            manage_url=manage_url,
        )
    # The applicant's receipt: what they registered for, who now has their details, and what happens next.
    enqueue(
        session,
        renderer,
        key=f"internship-receipt:{internship.id}:{email}",
        kind="internship_interest_receipt",
        to=email,
        to_name=name,
        context={
            "name": name,
            "internship_title": internship.title,
            "host_name": host_name,
            "closing_date": format_date(internship.closing_date),
            "internship_url": f"{base_url.rstrip('/')}/internships/{internship.slug}",
            "host_told": bool(internship.host_contact_email),
            "note": note,
        },
    )
    return InterestResult(created=True, interest_id=row[0])


def interests_for(session: Session, actor: Principal, internship: m.Internship) -> list[Any]:
    """A listing's registrations with their statuses, for the fellow and the host organisation's editors."""
    require_org(actor, internship.host_organisation_id)
    return interest_rows(session, internship.id)
