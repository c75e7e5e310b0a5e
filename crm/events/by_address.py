"""Inviting people by email address: each address becomes a contact (an existing one, or a new private one), so
the invitation goes through the same audience rules (suppression, withdrawals, already invited) as any other."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from email.utils import getaddresses

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.principal import Principal
from crm.directory.contacts import create_contact
from crm.validation import normalise_email

MOST = 500  # addresses in one go: enough for a room, small enough to read back on the preview


@dataclasses.dataclass(slots=True)
class Found:
    contact_ids: list[int] = dataclasses.field(default_factory=list)
    created: int = 0
    problems: list[str] = dataclasses.field(default_factory=list)  # entries that are not addresses, in their words


def parse(text: str) -> list[tuple[str, str]]:
    """(name, address) pairs from what a person pastes: one per line or comma-separated, ``Name <address>`` or a
    bare address; the address is kept as typed (validated by ``contacts_for``)."""
    entries = [piece for line in text.replace(";", "\n").splitlines() for piece in [line.strip()] if piece]
    return [(name.strip(), address.strip()) for name, address in getaddresses(entries) if name or address]


def contacts_for(
    session: Session, actor: Principal | None, entries: Iterable[tuple[str, str]], note: str = ""
) -> Found:
    """The contact of each address (created private when new, named from the entry or the address). Every entry is
    checked first: with any problem nothing is created, so a corrected paste is not half done already."""
    found = Found()
    valid: dict[str, str] = {}  # address -> name, in the order given
    for name, raw in entries:
        try:
            address = normalise_email(raw)
        except ValueError:
            found.problems.append(f"“{(name + ' ' + raw).strip()[:80]}” is not an email address")
            continue
        valid.setdefault(address, " ".join(name.split()))
    if len(valid) > MOST:
        found.problems.append(f"{len(valid)} addresses is more than {MOST} at once: send them in parts")
    if found.problems or not valid:
        return found
    for address, name in valid.items():
        contact_id = session.scalar(select(m.Contact.id).where(func.lower(m.Contact.email) == address))
        if contact_id is None:
            label = name or address.split("@", 1)[0]
            contact_id = create_contact(session, actor, {"name": label[:200], "email": address, "notes": note}).id
            found.created += 1
        found.contact_ids.append(contact_id)
    return found
