"""Small factories for the directory tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crm import models as m
from crm.directory import contacts, organisations


def make_org(db: Session, name: str, **values: Any) -> m.Organisation:
    data: dict[str, Any] = {"name": name, "kind": "vcse"}
    data.update(values)
    cleaned, form = organisations.validate_organisation(db, data)
    assert form.ok, form.errors
    for key in ("review_status", "submitter_email", "submitter_name"):
        if key in values:
            cleaned[key] = values[key]
    return organisations.create_organisation(db, None, cleaned)


def make_contact(db: Session, name: str, email: str | None = None, **values: Any) -> m.Contact:
    data: dict[str, Any] = {"name": name, "email": email or ""}
    data.update(values)
    cleaned, form = contacts.validate_contact(db, data)
    assert form.ok, form.errors
    return contacts.create_contact(db, None, cleaned)
