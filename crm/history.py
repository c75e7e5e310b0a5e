"""Reading a record's audit history for its page, newest first, each change in the words a person uses.

Audit entries store what changed as ``{field: [old, new]}`` with the values services snapshot (ids for links, ISO
dates, enum values, lists of names). Pages should read "Region: London → South East" and "Members: added Mind (VCSE
side, partner)", not ``region_id: – → 1`` or a Python list, so ``history`` turns each change into a sentence here,
once for every page. Linked records are named with one statement per kind of link, whatever the number of entries.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.timefmt import format_date, format_datetime

# Field names whose plain reading is not just the name with spaces.
LABELS = {
    "vcse_category": "VCSE category",
    "user_led": "User-led",
    "lived_experience_led": "Lived-experience-led",
    "public_email": "Public email",
    "charity_number": "Charity number",
    "company_number": "Companies House number",
    "region_id": "Region",
    "parent_id": "Parent organisation",
    "organisation_id": "Organisation",
    "contact_id": "Contact",
    "funding_call_id": "Funding call",
    "review_status": "Review status",
    "next_step_due": "Next step due",
    "academic_brings": "What the academic side brings",
    "academic_gets": "What the academic side gets",
    "vcse_brings": "What the VCSE side brings",
    "vcse_gets": "What the VCSE side gets",
    "career_stage": "Career stage",
    "job_title": "Job title",
    "is_primary": "Primary organisation",
    "funder_id": "Funder",
    "host_organisation_id": "Host organisation",
    "amount_min": "Smallest amount",
    "amount_max": "Largest amount",
    "requires_vcse_partner": "Needs a VCSE partner",
    "vcse_can_be_co_lead": "A VCSE can co-lead",
    "lead_must_be_academic": "Lead must be an academic institution",
    "lead_must_be_vcse": "Lead must be a VCSE",
    "url": "Web address",
    "external_ref": "External reference",
    "opens_at": "Opens",
    "next_deadline_at": "Next deadline",
    "last_deadline_at": "Last deadline",
    "reminder_offsets_hours": "Reminders (hours before the start)",
    "offer_hold_hours": "Hours to accept a waitlist offer",
    "offers_stop_hours": "No waitlist offers in the last (hours)",
    "vcse_min_percent": "Places kept for VCSE staff (%)",
    "rsvp_deadline": "Answer by",
    "online_url": "Online link",
    "allow_requests": "Requests for a place",
    "speed_networking": "Speed networking",
    "all_day": "All day",
    "starts_at": "Starts",
    "ends_at": "Ends",
    "stipend_pence": "Stipend",
    "hours_per_week": "Hours a week",
    "closing_date": "Closing date",
    "apply_url": "Apply at",
    "apply_email": "Apply by email",
    "preheader": "Preview text",
    "cta_label": "Button label",
    "cta_url": "Button link",
    "track_opens": "Let SendGrid count opens",
    "track_clicks": "Let SendGrid count clicks",
    "publish_as_news": "Also publish on the news page",
    # Funding calls: whom they suit (issue 19).
    "funding_type": "Type of funding",
    "application_effort": "Application effort",
    "open_to_unregistered": "Open to unregistered groups",
    "open_to_user_led": "Open to user-led groups",
    "match_funding_required": "Match funding required",
    "lived_experience_payment": "Pays for lived-experience involvement",
}
# Links stored as ids, and the column that names the linked record.
LINKS: dict[str, Any] = {
    "region_id": (m.Region, m.Region.name),
    "parent_id": (m.Organisation, m.Organisation.name),
    "organisation_id": (m.Organisation, m.Organisation.name),
    "contact_id": (m.Contact, m.Contact.name),
    "funding_call_id": (m.FundingCall, m.FundingCall.title),
    "funder_id": (m.Organisation, m.Organisation.name),
    "host_organisation_id": (m.Organisation, m.Organisation.name),
}
MONEY = {"amount_min", "amount_max"}  # whole pounds
PENCE = {"stipend_pence"}
EMPTY = (None, "", "(empty)", [], {})
# Fields holding a stored key ("open-consultative-group", "exploring"), shown in words.
KEYS = {"kind", "vcse_category", "stage", "visibility", "review_status", "career_stage", "status", "side", "health"}
KEYS |= {"funding_type", "application_effort"}  # funding calls (issue 19)
ACRONYMS = {"vcse": "VCSE", "nhs": "NHS", "uk": "UK"}
SIDES = {"academic": "academic side", "vcse": "VCSE side"}
LONG = 80  # longer texts are shortened: the record's page shows them in full
_MEMBER = re.compile(r"^(academic|vcse): (.*?)(?: \((.*)\))?$")  # "vcse: Mind (partner)", as partnerships store it


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    at: dt.datetime
    actor: str
    action: str
    summary: str
    changes: dict[str, Any]
    lines: list[str]  # one sentence per changed field


def history(session: Session, entity: str, entity_id: int, limit: int = 50) -> list[Entry]:
    rows = list(
        session.execute(
            select(m.AuditEntry.at, m.AuditEntry.actor, m.AuditEntry.action, m.AuditEntry.summary, m.AuditEntry.changes)
            .where(m.AuditEntry.entity == entity, m.AuditEntry.entity_id == entity_id)
            .order_by(m.AuditEntry.id.desc())
            .limit(limit)
        )
    )
    names = linked_names(session, (r.changes or {} for r in rows))
    return [Entry(r.at, r.actor, r.action, r.summary, r.changes or {}, describe(r.changes or {}, names)) for r in rows]


def linked_names(session: Session, changes: Iterable[dict[str, Any]]) -> dict[str, dict[int, str]]:
    """``{field: {id: name}}`` for every id-valued link in ``changes``: one statement per kind of link."""
    wanted: dict[str, set[int]] = {}
    for change in changes:
        for field, value in change.items():
            if field in LINKS and isinstance(value, list):
                wanted.setdefault(field, set()).update(v for v in value if isinstance(v, int))
    out: dict[str, dict[int, str]] = {}
    for field, ids in wanted.items():
        model, column = LINKS[field]
        out[field] = {i: n for i, n in session.execute(select(model.id, column).where(model.id.in_(ids)))}
    return out


def label(field: str) -> str:
    if field in LABELS:
        return LABELS[field]
    text = field.removesuffix("_id").replace("_", " ")
    return text[:1].upper() + text[1:]


def describe(changes: dict[str, Any], names: dict[str, dict[int, str]] | None = None) -> list[str]:
    """Each change as a sentence: "Region: London → South East", "Region: set to London", "Region: cleared (was
    London)", "Topics: added Carers; removed Psychosis", "Members: added Mind (VCSE side, partner)"."""
    names = names or {}
    lines = []
    for field, change in sorted(changes.items()):  # PostgreSQL's jsonb keeps keys in its own order
        name = label(field)
        if not (isinstance(change, list) and len(change) == 2):
            lines.append(f"{name}: {_value(field, change, names)}")
            continue
        old, new = change
        if isinstance(old, list | type(None)) and isinstance(new, list | type(None)) and (old or new):
            lines.append(f"{name}: {_list_change(field, old or [], new or [])}")
        elif old in EMPTY:
            lines.append(f"{name}: set to {_value(field, new, names)}")
        elif new in EMPTY:
            lines.append(f"{name}: cleared (was {_value(field, old, names)})")
        else:
            lines.append(f"{name}: {_value(field, old, names)} → {_value(field, new, names)}")
    return lines


def _list_change(field: str, old: list[Any], new: list[Any]) -> str:
    added = [_item(field, v) for v in new if v not in old]
    removed = [_item(field, v) for v in old if v not in new]
    parts = ([f"added {', '.join(added)}"] if added else []) + ([f"removed {', '.join(removed)}"] if removed else [])
    return "; ".join(parts) or "reordered"


def _item(field: str, value: Any) -> str:
    text = str(value)
    if field == "members" and (match := _MEMBER.match(text)):
        side, who, role = match.groups()
        return f"{who} ({SIDES[side]}{', ' + role if role else ''})"
    return text


def _value(field: str, value: Any, names: dict[str, dict[int, str]]) -> str:
    if value in EMPTY:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if field in LINKS and isinstance(value, int):
        return names.get(field, {}).get(value) or f"#{value} (since deleted)"
    if field in MONEY and isinstance(value, int):
        return f"£{value:,}"
    if field in PENCE and isinstance(value, int):
        return f"£{value / 100:,.2f}"
    if isinstance(value, list):
        return ", ".join(_item(field, v) for v in value) or "–"
    if isinstance(value, dict):
        return ", ".join(f"{label(k)} {_value(k, v, names)}" for k, v in value.items())
    text = str(value)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return format_date(dt.date.fromisoformat(text))
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*", text):
        try:
            return format_datetime(dt.datetime.fromisoformat(text))
        except ValueError:
            return text
    if field in KEYS:
        return _words(text)
    return f"“{text[:LONG]}…”" if len(text) > LONG else text


def _words(key: str) -> str:
    words = [ACRONYMS.get(w, w) for w in re.split(r"[-_]", key)]
    text = " ".join(words)
    return text[:1].upper() + text[1:]
