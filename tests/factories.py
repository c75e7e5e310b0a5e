"""The one place tests make organisations and contacts (and look up the reference topics and regions).

``organisation`` and ``contact`` insert rows directly (invented names, no audit entry); ``organisation_via_form`` and
``contact_via_form`` go through the directory's validation and create services, as the admin form does, for tests
whose subject is what those services store. A domain's own builders (calls, events, internships, subscriptions) stay
in that domain's test helpers and take their organisations from here.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.directory import contacts, organisations
from crm.directory.reference import slugify

_seq = itertools.count(1)


def topic(db: Session, name: str) -> m.Topic:
    return db.scalar(select(m.Topic).where(m.Topic.name == name))


def region(db: Session, name: str) -> m.Region:
    return db.scalar(select(m.Region).where(m.Region.name == name))


def region_id(db: Session, code: str) -> int:
    return db.scalar(select(m.Region.id).where(m.Region.code == code))


def organisation(
    db: Session,
    name: str | None = None,
    kind: m.OrgKind = m.OrgKind.VCSE,
    *,
    region_name: str | None = None,
    topics: Iterable[str] = (),
    **columns: Any,
) -> m.Organisation:
    """An organisation (approved and public unless ``columns`` say otherwise); region and topics by name."""
    n = next(_seq)
    name = name or f"Invented Org {n}"
    o = m.Organisation(
        name=name,
        name_normalised=name.lower(),
        slug=f"{slugify(name)}-{n}",
        kind=kind,
        region_id=region(db, region_name).id if region_name else None,
        **columns,
    )
    db.add(o)
    db.flush()
    topic_ids = [topic(db, t).id for t in topics]
    if topic_ids:
        db.execute(m.organisation_topics.insert(), [{"organisation_id": o.id, "topic_id": t} for t in topic_ids])
    return o


def funder(db: Session, name: str | None = None, **values: Any) -> m.Organisation:
    return organisation(db, name or f"Invented Funder {next(_seq)}", m.OrgKind.FUNDER, **values)


def contact(
    db: Session,
    name: str | None = None,
    email: str | None = "",
    *,
    organisation: m.Organisation | None = None,
    role: str = "",
    **columns: Any,
) -> m.Contact:
    """A contact (``email=""``: an invented address; ``None``: none), primary at ``organisation`` if given."""
    n = next(_seq)
    c = m.Contact(name=name or f"Person {n}", email=(email if email != "" else f"person{n}@example.org"), **columns)
    db.add(c)
    db.flush()
    if organisation is not None:
        db.add(m.Affiliation(contact_id=c.id, organisation_id=organisation.id, is_primary=True, role=role))
        db.flush()
    return c


def organisation_via_form(db: Session, name: str, **values: Any) -> m.Organisation:
    """Through the directory's form validation and create service (form values: ``topics=["carers"]``, slugs)."""
    data: dict[str, Any] = {"name": name, "kind": "vcse"}
    data.update(values)
    cleaned, form = organisations.validate_organisation(db, data)
    assert form.ok, form.errors
    for key in ("review_status", "submitter_email", "submitter_name"):
        if key in values:
            cleaned[key] = values[key]
    return organisations.create_organisation(db, None, cleaned)


def contact_via_form(db: Session, name: str, email: str | None = None, **values: Any) -> m.Contact:
    data: dict[str, Any] = {"name": name, "email": email or ""}
    data.update(values)
    cleaned, form = contacts.validate_contact(db, data)
    assert form.ok, form.errors
    return contacts.create_contact(db, None, cleaned)
