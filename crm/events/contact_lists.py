"""Saved contact lists: named groups of directory contacts the fellow can send an event's invitations to."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.accounts.principal import Principal
from crm.errors import FieldErrors
from crm.validation import normalise_email

L, Member = m.ContactList, m.ContactListMember


def lists_with_sizes(session: Session) -> list[Any]:
    """Every list by name: ``(id, name, description, member count)``."""
    return list(
        session.execute(
            select(L.id, L.name, L.description, func.count(Member.contact_id))
            .outerjoin(Member, Member.list_id == L.id)
            .group_by(L.id, L.name, L.description)
            .order_by(L.name)
        )
    )


def list_choices(session: Session) -> list[Any]:
    """``(id, name)`` of every list, for the audience menu."""
    return list(session.execute(select(L.id, L.name).order_by(L.name)))


def members(session: Session, list_id: int) -> list[Any]:
    """``(id, name, email)`` of a list's contacts, by name."""
    return list(
        session.execute(
            select(m.Contact.id, m.Contact.name, m.Contact.email)
            .join(Member, Member.contact_id == m.Contact.id)
            .where(Member.list_id == list_id)
            .order_by(m.Contact.name)
        )
    )


def create_list(session: Session, actor: Principal | None, name: str, description: str) -> m.ContactList:
    """A new, empty list; a name already taken is refused on the ``name`` field."""
    if session.scalar(select(L.id).where(L.name == name)):
        raise FieldErrors({"name": "A list with this name already exists."})
    lst = L(name=name, description=description)
    session.add(lst)
    session.flush()
    audit.record(session, actor, "created", "contact_list", lst.id, summary=name)
    return lst


@dataclasses.dataclass(frozen=True, slots=True)
class Added:
    added: int
    unknown: list[str]  # well-formed addresses no contact has
    bad: list[str]  # what was not an email address

    def sentence(self) -> str:
        text = f"{self.added} added."
        if self.unknown:
            more = "…" if len(self.unknown) > 20 else ""
            text += f" Not in the directory: {', '.join(self.unknown[:20])}{more}."
        if self.bad:
            text += f" Not email addresses: {', '.join(self.bad[:10])}."
        return text


def add_members(session: Session, actor: Principal | None, lst: m.ContactList, raw: str) -> Added:
    """Add the directory contacts whose addresses ``raw`` lists (separated by commas, semicolons or white space)."""
    wanted: set[str] = set()
    bad: list[str] = []
    for part in raw.replace(",", "\n").replace(";", "\n").split():
        try:
            wanted.add(normalise_email(part))
        except ValueError:
            bad.append(part)
    found = (
        dict(session.execute(select(m.Contact.email, m.Contact.id).where(m.Contact.email.in_(wanted))).all())
        if wanted
        else {}
    )
    existing = set(session.scalars(select(Member.contact_id).where(Member.list_id == lst.id)))
    new_ids = [cid for cid in found.values() if cid not in existing]
    for cid in new_ids:
        session.add(Member(list_id=lst.id, contact_id=cid))
    session.flush()
    if new_ids:
        audit.record(session, actor, "added members", "contact_list", lst.id, summary=f"{len(new_ids)} added")
    return Added(len(new_ids), sorted(wanted - set(found)), bad)


def remove_member(session: Session, actor: Principal | None, lst: m.ContactList, contact_id: int) -> None:
    session.execute(delete(Member).where(Member.list_id == lst.id, Member.contact_id == contact_id))
    audit.record(session, actor, "removed member", "contact_list", lst.id, summary=f"contact {contact_id}")
