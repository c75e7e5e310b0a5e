"""What the merge page compares: the fields a person chooses between, the other record found by searching, and a
fingerprint of both records so a merge chosen on a stale comparison is refused rather than applied.

Why its own module: the comparison is shared by the page (which shows it), the merge (which applies the choices)
and undo (which encodes rows the same way), and ``merge.py`` already holds duplicates and the merge itself.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import json
from typing import Any

from sqlalchemy import Table, func, or_, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.history import LABELS

# (field, kind): "value" one or the other, "text" also both joined, "list" one, the other or both (the default).
ORG_FIELDS: list[tuple[str, str]] = [
    ("name", "value"),
    ("kind", "value"),
    ("vcse_category", "value"),
    ("user_led", "value"),
    ("lived_experience_led", "value"),
    ("description", "text"),
    ("website", "value"),
    ("public_email", "value"),
    ("postcode", "value"),
    ("region_id", "value"),
    ("charity_number", "value"),
    ("company_number", "value"),
    ("parent_id", "value"),
    ("visibility", "value"),
    ("review_status", "value"),
    ("topics", "list"),
]
CONTACT_FIELDS: list[tuple[str, str]] = [
    ("name", "value"),
    ("email", "value"),
    ("phone", "value"),
    ("job_title", "value"),
    ("career_stage", "value"),
    ("notes", "text"),
    ("topics", "list"),
    ("regions", "list"),
]
# The link tables behind the list fields: (table, the record's column, the linked column).
LISTS: dict[str, dict[str, tuple[Table, str, str]]] = {
    "organisation": {"topics": (m.organisation_topics, "organisation_id", "topic_id")},
    "contact": {
        "topics": (m.contact_topics, "contact_id", "topic_id"),
        "regions": (m.contact_regions, "contact_id", "region_id"),
    },
}
KINDS = {"organisations": "organisation", "contacts": "contact"}


def model_for(entity: str) -> Any:
    return m.Organisation if entity == "organisation" else m.Contact


def fields_for(entity: str) -> list[tuple[str, str]]:
    return ORG_FIELDS if entity == "organisation" else CONTACT_FIELDS


def plain(value: Any) -> Any:
    """A column value as JSON keeps it (dates as ISO text, enums as their stored value)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def row_of(session: Session, model: Any, record_id: int) -> dict[str, Any]:
    """Every column of one record, JSON-ready, so undo can put it back as it was."""
    row = session.execute(select(model.__table__).where(model.__table__.c.id == record_id)).mappings().one()
    return {k: plain(v) for k, v in row.items()}


def decode_row(model: Any, row: dict[str, Any]) -> dict[str, Any]:
    """``row_of`` read back: ISO text becomes datetimes again for the date columns."""
    out: dict[str, Any] = {}
    for col in model.__table__.columns:
        if col.name not in row:
            continue
        value = row[col.name]
        if isinstance(value, str) and isinstance(col.type, m.base.UTCDateTime):
            value = dt.datetime.fromisoformat(value)
        out[col.name] = value
    return out


def list_ids(session: Session, entity: str, field: str, record_id: int) -> list[int]:
    table, own, other = LISTS[entity][field]
    return sorted(session.scalars(select(table.c[other]).where(table.c[own] == record_id)))


def values_of(session: Session, entity: str, record_id: int) -> dict[str, Any]:
    """The choosable values of one record (lists as sorted ids), JSON-ready."""
    row = row_of(session, model_for(entity), record_id)
    out: dict[str, Any] = {}
    for field, kind in fields_for(entity):
        out[field] = list_ids(session, entity, field, record_id) if kind == "list" else row[field]
    return out


def stamp(a: dict[str, Any], b: dict[str, Any]) -> str:
    """A fingerprint of both records as compared: the merge refuses a form whose records changed since."""
    return hashlib.sha256(json.dumps([a, b], sort_keys=True, default=str).encode()).hexdigest()[:32]


def empty(value: Any) -> bool:
    return value in (None, "", [], False)


def default_choice(kind: str, a_id: int, b_id: int, a: Any, b: Any) -> str:
    """The record a field comes from unless the person chooses: lists both (texts too when both say something
    different), else the first unless it is empty."""
    if kind == "list" or (kind == "text" and not empty(a) and not empty(b) and a != b):
        return "both"
    return str(b_id) if empty(a) and not empty(b) else str(a_id)


def shown(session: Session, field: str, value: Any) -> str:
    if empty(value) and value is not False:
        return "–"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if field in ("topics", "regions"):
        vocab = m.Topic if field == "topics" else m.Region
        return ", ".join(session.scalars(select(vocab.name).where(vocab.id.in_(value)).order_by(vocab.name)))
    if field == "region_id":
        return session.scalar(select(m.Region.name).where(m.Region.id == value)) or f"#{value}"
    if field == "parent_id":
        return session.scalar(select(m.Organisation.name).where(m.Organisation.id == value)) or f"#{value}"
    text = str(value)
    return (
        text.replace("-", " ").capitalize()
        if field in {"kind", "vcse_category", "visibility", "review_status", "career_stage"}
        else text
    )


def label(field: str) -> str:
    return LABELS.get(field, field.replace("_", " ").capitalize())


@dataclasses.dataclass(frozen=True, slots=True)
class Row:
    """One line of the comparison: the field in words, both values shown, the choices and which is chosen."""

    field: str
    label: str
    kind: str
    a: str
    b: str
    same: bool
    chosen: str


def comparison(session: Session, entity: str, a_id: int, b_id: int) -> tuple[list[Row], str]:
    """Both records field by field, with the default choice, and the fingerprint the form carries."""
    a, b = values_of(session, entity, a_id), values_of(session, entity, b_id)
    rows = [
        Row(
            field=field,
            label=label(field),
            kind=kind,
            a=shown(session, field, a[field]),
            b=shown(session, field, b[field]),
            same=a[field] == b[field],
            chosen=default_choice(kind, a_id, b_id, a[field], b[field]),
        )
        for field, kind in fields_for(entity)
    ]
    return rows, stamp(a, b)


def candidates(session: Session, entity: str, exclude_id: int, q: str, limit: int = 20) -> list[Any]:
    """Records matching a search (name, email, website, charity number or number), for picking the other record."""
    q = q.strip()[:200]
    if not q:
        return []
    like = f"%{q.lower().replace('%', '').replace('_', '')}%"
    if entity == "organisation":
        o = m.Organisation
        conds = [
            func.lower(o.name).like(like),
            func.lower(o.website).like(like),
            func.lower(o.charity_number).like(like),
        ]
        cols: list[Any] = [o.id, o.name, o.website.label("detail")]
    else:
        o = m.Contact
        conds = [func.lower(o.name).like(like), func.lower(o.email).like(like)]
        cols = [o.id, o.name, o.email.label("detail")]
    if q.lstrip("#").isdigit() and len(q) < 10:
        conds.append(o.id == int(q.lstrip("#")))
    query = select(*cols).where(or_(*conds), o.id != exclude_id)
    if entity == "contact":
        query = query.where(m.Contact.erased_at.is_(None))
    return list(session.execute(query.order_by(func.lower(o.name), o.id).limit(limit)))


def names_for_history(session: Session, entity: str, values: dict[str, Any]) -> dict[str, Any]:
    """Values as the audit trail stores them elsewhere (lists as names), so the history reads them in words."""
    out = dict(values)
    for field, (_table, _own, other) in LISTS[entity].items():
        vocab = m.Topic if other == "topic_id" else m.Region
        out[field] = sorted(session.scalars(select(vocab.name).where(vocab.id.in_(values.get(field) or []))))
    return out
