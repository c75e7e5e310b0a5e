"""Bulk actions on the admin organisation and contact lists (issue 17.4): which records a selection means, and
the changes made to them (add or remove a topic, add contacts to a contact list), each audited on every record
it changed so the record's own history shows it.

A selection is the rows ticked on a page, every row of the page, or every row matching the list's filters (up to
``MAX_SELECTION``). A change to more than ``CONFIRM_OVER`` records is only made once the fellow has confirmed it.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.accounts.principal import Principal
from crm.directory import contacts, organisations
from crm.errors import FieldErrors
from crm.listing import COUNT_CAP, ListParams

CONFIRM_OVER = 100
MAX_SELECTION = COUNT_CAP
NAMES_SHOWN = 10


@dataclasses.dataclass(frozen=True, slots=True)
class Kind:
    """One list bulk actions work on."""

    name: str  # audit entity
    plural: str
    url: str
    model: Any
    links: Table  # the topic link table
    link_column: str
    actions: Mapping[str, str]  # action key -> label


ORGANISATIONS = Kind(
    "organisation",
    "organisations",
    "/admin/organisations",
    m.Organisation,
    m.organisation_topics,
    "organisation_id",
    {"add_topic": "Add a topic", "remove_topic": "Remove a topic", "export": "Download as CSV"},
)
CONTACTS = Kind(
    "contact",
    "contacts",
    "/admin/contacts",
    m.Contact,
    m.contact_topics,
    "contact_id",
    {
        "add_to_list": "Add to a contact list",
        "add_topic": "Add a topic",
        "remove_topic": "Remove a topic",
        "export": "Download as CSV",
    },
)
CHANGES = {"add_topic", "remove_topic", "add_to_list"}


@dataclasses.dataclass(frozen=True, slots=True)
class Selection:
    ids: list[int]
    names: list[str]  # the first NAMES_SHOWN, by name

    @property
    def count(self) -> int:
        return len(self.ids)


def _ints(values: Sequence[Any]) -> list[int]:
    out: list[int] = []
    for v in values:
        try:
            out.append(int(str(v)))
        except ValueError:
            continue
    return out


def list_params(kind: Kind, query: str) -> ListParams:
    """The list's filters as the form carried them (its query string), without the page's cursor."""
    filters = organisations.ADMIN_ORG_FILTERS if kind is ORGANISATIONS else contacts.CONTACT_FILTERS
    parsed = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(query[:4000]).items()}
    parsed.pop("cursor", None)
    return ListParams.from_query(parsed, filter_names=filters)


def _matching_ids(session: Session, kind: Kind, params: ListParams) -> list[int]:
    if kind is ORGANISATIONS:
        query, _ = organisations.organisation_list_query(session, params, public=False)
    else:
        query, _ = contacts.contact_list_query(session, params)
    sub = query.subquery()
    return list(session.scalars(select(sub.c.id).limit(MAX_SELECTION + 1)))


def select_records(session: Session, kind: Kind, form: Mapping[str, Any]) -> Selection:
    """The records the form chose: ``all_matching`` (the list's filters in ``query``), else ``all_page`` (every
    row of the page shown, ``page_ids``), else the ticked ``ids``. Ids that are not (or no longer) records are
    dropped; none left, or more than ``MAX_SELECTION``, is a refusal."""
    if form.get("all_matching"):
        ids = _matching_ids(session, kind, list_params(kind, str(form.get("query", ""))))
        if len(ids) > MAX_SELECTION:
            raise FieldErrors(
                {"ids": f"More than {MAX_SELECTION:,} {kind.plural} match: narrow the filters and try again."}
            )
    else:
        raw = form.get("page_ids" if form.get("all_page") else "ids", [])
        ids = _ints(raw if isinstance(raw, list) else [raw])[:MAX_SELECTION]
    model = kind.model
    found = (
        list(session.execute(select(model.id, model.name).where(model.id.in_(ids)).order_by(model.name, model.id)))
        if ids
        else []
    )
    if kind is CONTACTS:
        erased = set(
            session.scalars(select(m.Contact.id).where(m.Contact.id.in_(ids), m.Contact.erased_at.isnot(None)))
        )
        found = [r for r in found if r.id not in erased] if erased else found
    if not found:
        raise FieldErrors({"ids": f"Select at least one of the {kind.plural}."})
    return Selection([r.id for r in found], [r.name for r in found[:NAMES_SHOWN]])


def needs_confirmation(action: str, selection: Selection, confirmed: bool) -> bool:
    return action in CHANGES and selection.count > CONFIRM_OVER and not confirmed


def _topic(session: Session, topic_id: Any) -> m.Topic:
    ids = _ints([topic_id])
    topic = session.get(m.Topic, ids[0]) if ids else None
    if topic is None:
        raise FieldErrors({"topic": "Choose a topic."})
    return topic


def _topic_names(session: Session, kind: Kind, ids: list[int]) -> dict[int, list[str]]:
    column = kind.links.c[kind.link_column]
    out: dict[int, list[str]] = defaultdict(list)
    for record_id, name in session.execute(
        select(column, m.Topic.name).join(m.Topic, m.Topic.id == kind.links.c.topic_id).where(column.in_(ids))
    ):
        out[record_id].append(name)
    return out


def change_topic(
    session: Session, actor: Principal | None, kind: Kind, selection: Selection, topic_id: Any, *, add: bool
) -> int:
    """Add the topic to (or remove it from) every selected record that lacks (has) it; how many changed. Each
    changed record gets an audit entry with its topics before and after."""
    topic = _topic(session, topic_id)
    before = _topic_names(session, kind, selection.ids)
    column = kind.links.c[kind.link_column]
    having = set(session.scalars(select(column).where(column.in_(selection.ids), kind.links.c.topic_id == topic.id)))
    changed = [i for i in selection.ids if (i not in having) == add]
    if not changed:
        return 0
    if add:
        session.execute(insert(kind.links), [{kind.link_column: i, "topic_id": topic.id} for i in changed])
    else:
        session.execute(delete(kind.links).where(column.in_(changed), kind.links.c.topic_id == topic.id))
    verb = "added" if add else "removed"
    for record_id in changed:
        old = sorted(before.get(record_id, []))
        new = sorted({*old, topic.name}) if add else [n for n in old if n != topic.name]
        audit.record(
            session,
            actor,
            "updated",
            kind.name,
            record_id,
            summary=f"Bulk action: topic {topic.name} {verb}",
            changes={"topics": [old, new]},
        )
    session.flush()
    return len(changed)


def add_to_contact_list(session: Session, actor: Principal | None, selection: Selection, list_id: Any) -> int:
    """Add the selected contacts to a contact list (those already in it stay once); how many were added. Audited
    on the list, as adding members by address is, and on each contact added."""
    ids = _ints([list_id])
    lst = session.get(m.ContactList, ids[0]) if ids else None
    if lst is None:
        raise FieldErrors({"list": "Choose a contact list."})
    member = m.ContactListMember
    existing = set(
        session.scalars(select(member.contact_id).where(member.list_id == lst.id, member.contact_id.in_(selection.ids)))
    )
    new_ids = [i for i in selection.ids if i not in existing]
    if not new_ids:
        return 0
    session.execute(insert(member), [{"list_id": lst.id, "contact_id": i} for i in new_ids])
    audit.record(session, actor, "added members", "contact_list", lst.id, summary=f"{len(new_ids)} added (bulk)")
    for contact_id in new_ids:
        audit.record(session, actor, "updated", "contact", contact_id, summary=f"Bulk action: added to list {lst.name}")
    session.flush()
    return len(new_ids)


def topic_choices(session: Session) -> list[Any]:
    return list(session.execute(select(m.Topic.id, m.Topic.name).order_by(m.Topic.name)))


def contact_list_choices(session: Session) -> list[Any]:
    return list(session.execute(select(m.ContactList.id, m.ContactList.name).order_by(m.ContactList.name)))
