"""The erasure sweep: every text and JSON column of every table in ``Base.metadata`` is searched for the person's
email address (and full names as whole words, outside other people's name columns) and what it finds becomes
``[erased]`` — so data written by a domain added later is covered too.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import JSON, String, Text, func, or_, select, update
from sqlalchemy.orm import Session

from crm import models as m

ERASED = "[erased]"
ERASED_NAME = "Erased contact"

# Columns holding *other people's* names: the name sweep never touches them (the subject's own rows there are
# anonymised by the targeted step; someone else may share the name).
IDENTITY_NAME_COLUMNS = {
    ("contacts", "name"),
    ("users", "name"),
    ("subscriptions", "name"),
    ("internship_interests", "name"),
    ("event_place_requests", "name"),
    ("outbox_messages", "recipient_name"),
    ("organisations", "submitter_name"),
    ("internships", "host_contact_name"),
    ("network_members", "name"),
    ("involvement_interests", "name"),
    ("involvement_records", "person_name"),
    ("involvement_opportunities", "contact_name"),
    ("consultation_requests", "researcher_name"),
    ("consultation_recipients", "answered_by"),
    ("organisations", "name"),
    ("organisations", "name_normalised"),
    ("organisations", "slug"),
}
# Columns the sweep never rewrites: the hashed suppression itself.
SWEEP_SKIP = {("suppressions", "address")}
MIN_NAME_LENGTH = 4


def _text_columns(table: Any) -> list[Any]:
    return [c for c in table.columns if isinstance(c.type, String | Text | JSON) or _is_json(c)]


def _is_json(column: Any) -> bool:
    return isinstance(column.type, JSON) or "JSON" in type(column.type).__name__.upper()


def _variants(value: str) -> set[str]:
    """The value as written in a text column and as escaped inside stored JSON (non-ASCII as \\uXXXX)."""
    return {value, json.dumps(value)[1:-1]}


def _pattern(needle: str, whole_word: bool) -> re.Pattern[str]:
    """Names match as whole words; an email only as a whole address (``ann@x.org`` never matches inside
    ``joann@x.org`` or ``ann@x.org.uk``)."""
    body = re.escape(needle)
    if whole_word:
        return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)
    return re.compile(rf"(?<![\w.%+-]){body}(?![\w-]|\.[\w-])", re.IGNORECASE)


def _scrub(value: Any, patterns: list[re.Pattern[str]]) -> Any:
    if isinstance(value, str):
        for p in patterns:
            value = p.sub(ERASED, value)
        return value
    if isinstance(value, list):
        return [_scrub(v, patterns) for v in value]
    if isinstance(value, dict):
        return {_scrub(k, patterns): _scrub(v, patterns) for k, v in value.items()}
    return value


def sweep(session: Session, emails: list[str], names: set[str]) -> int:
    """Replace every remaining occurrence of the emails (anywhere) and names (whole words, outside other people's
    name columns) in every text/JSON column of every table with ``[erased]``. Returns cells changed."""
    from sqlalchemy import Text as TextType
    from sqlalchemy import cast

    session.flush()
    email_needles = [e for e in emails if e]
    name_needles = sorted({n.strip() for n in names if len(n.strip()) >= MIN_NAME_LENGTH and n != ERASED_NAME})
    if not email_needles and not name_needles:
        return 0
    changed = 0
    for table in m.Base.metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        if not pk:
            continue
        for column in _text_columns(table):
            if (table.name, column.name) in SWEEP_SKIP:
                continue
            needles = [(e, False) for e in email_needles]  # (needle, is_a_name)
            if (table.name, column.name) not in IDENTITY_NAME_COLUMNS:
                needles += [(n, True) for n in name_needles]
            if not needles:
                continue
            as_text = cast(column, TextType) if _is_json(column) else column
            likes = [func.lower(as_text).contains(v.lower(), autoescape=True) for n, _ in needles for v in _variants(n)]
            patterns = [_pattern(n, whole) for n, whole in needles]
            rows = session.execute(select(*pk, column).where(or_(*likes))).all()
            for row in rows:
                old = row[-1]
                new = _scrub(old, patterns)
                if new == old:
                    continue
                key = dict(zip([c.name for c in pk], row[:-1], strict=True))
                session.execute(update(table).where(*(c == key[c.name] for c in pk)).values({column.name: new}))
                changed += 1
    return changed
