"""An import batch's changes as people read them on its page: field labels, regions, topics and funders by name,
yes/no, "(empty)" — the stored values stay plain ids and text so an undo can compare and put them back."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.csvimport import show
from crm.directory.import_batch import CONTACT_FIELDS, ORG_FIELDS
from crm.funding import import_values

LABELS: dict[str, dict[str, str]] = {
    "organisation": {f.name: f.label for f in ORG_FIELDS} | {"topics": "Topics"},
    "contact": {f.name: f.label for f in CONTACT_FIELDS},
    "affiliation": {"organisation_id": "Organisation", "role": "Role", "is_primary": "Primary organisation"},
    "funding_call": import_values.LABELS,
}
# Which table names the ids a field holds.
NAMED = {
    "region_id": m.Region,
    "topics": m.Topic,
    "regions": m.Region,
    "funder": m.Organisation,
    "organisation_id": m.Organisation,
}


@dataclasses.dataclass(frozen=True, slots=True)
class ShownChange:
    label: str
    old: str
    new: str


def describe(session: Session, changes: Sequence[m.ImportChange]) -> dict[int, list[ShownChange]]:
    """Per change id, its fields in words (one statement per kind of named id on the page)."""
    wanted: dict[Any, set[int]] = {}
    for change in changes:
        for field, pair in change.fields.items():
            if field in NAMED:
                for value in pair:
                    ids = value if isinstance(value, list) else [value]
                    wanted.setdefault(NAMED[field], set()).update(i for i in ids if isinstance(i, int))
    names = {
        model: dict(session.execute(select(model.id, model.name).where(model.id.in_(ids))).all())
        for model, ids in wanted.items()
        if ids
    }

    def word(field: str, value: Any) -> str:
        if field in NAMED and value not in (None, []):
            table = names.get(NAMED[field], {})
            value = [table.get(v, f"#{v}") for v in value] if isinstance(value, list) else table.get(value, f"#{value}")
        if field.startswith("amount_") and isinstance(value, int):
            return f"£{value:,}"
        return show(value)

    out: dict[int, list[ShownChange]] = {}
    for change in changes:
        labels = LABELS.get(change.entity, {})
        out[change.id] = [
            ShownChange(labels.get(field, field.replace("_", " ").capitalize()), word(field, old), word(field, new))
            for field, (old, new) in change.fields.items()
            if field != "website_domain"
        ]
    return out
