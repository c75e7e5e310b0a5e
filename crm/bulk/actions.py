"""Bulk actions on the admin lists (issue 17.4; the lists are declared in ``crm.bulk.kinds``): which records a selection means, and
the changes made to them (add or remove a topic, add contacts to a contact list), each audited on every record
it changed so the record's own history shows it.

A selection is the rows ticked on a page, every row of the page, or every row matching the list's filters (up to
``MAX_SELECTION``). A change to more than ``CONFIRM_OVER`` records is only made once the fellow has confirmed it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.accounts.principal import Principal
from crm.bulk.kinds import CONTACTS, Kind, Scope
from crm.directory.export import safe_cell
from crm.errors import FieldErrors
from crm.involvement import editing as involvement_editing
from crm.listing import COUNT_CAP, ListParams
from crm.plainwords import plain
from crm.timefmt import format_datetime

CONFIRM_OVER = 100
MAX_SELECTION = COUNT_CAP
NAMES_SHOWN = 10


CHANGES = {"add_topic", "remove_topic", "add_to_list", "archive", "restore", "close"}


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
    filters = kind.filters
    parsed = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(query[:4000]).items()}
    parsed.pop("cursor", None)
    return ListParams.from_query(parsed, filter_names=filters)


def _matching_ids(session: Session, kind: Kind, params: ListParams, scope: Scope) -> list[int]:
    sub = kind.matching(session, params, scope).subquery()
    return list(session.scalars(select(sub.c.id).limit(MAX_SELECTION + 1)))


def select_records(session: Session, kind: Kind, form: Mapping[str, Any], scope: Scope) -> Selection:
    """The records the form chose: ``all_matching`` (the list's filters in ``query``), else ``all_page`` (every
    row of the page shown, ``page_ids``), else the ticked ``ids``. Ids that are not (or no longer) records are
    dropped; none left, or more than ``MAX_SELECTION``, is a refusal."""
    if form.get("all_matching"):
        ids = _matching_ids(session, kind, list_params(kind, str(form.get("query", ""))), scope)
        if len(ids) > MAX_SELECTION:
            raise FieldErrors(
                {"ids": f"More than {MAX_SELECTION:,} {kind.plural} match: narrow the filters and try again."}
            )
    else:
        raw = form.get("page_ids" if form.get("all_page") else "ids", [])
        ids = _ints(raw if isinstance(raw, list) else [raw])[:MAX_SELECTION]
    model = kind.model
    if not ids:
        found = []
    else:
        # Only records the list itself could show (an editor's own partnerships or internships, say).
        shown = kind.matching(session, list_params(kind, "archived=all"), scope).subquery()
        found = list(
            session.execute(
                select(model.id, kind.label.label("name"))
                .where(model.id.in_(ids), model.id.in_(select(shown.c.id)))
                .order_by(kind.label, model.id)
            )
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
    assert kind.links is not None
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
    if kind.links is None:
        raise FieldErrors({"topic": f"{kind.plural.capitalize()} have no topics."})
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


def set_archived(
    session: Session, actor: Principal | None, kind: Kind, selection: Selection, *, archive: bool, now: dt.datetime
) -> int:
    """Archive (or restore) the selected records not already so; how many changed. Each gets an audit entry, so
    its history says when and by whom; nothing else about the record changes."""
    model = kind.model
    column = model.archived_at
    ids = list(
        session.scalars(
            select(model.id).where(model.id.in_(selection.ids), column.is_(None) if archive else column.isnot(None))
        )
    )
    if not ids:
        return 0
    session.execute(update(model).where(model.id.in_(ids)).values(archived_at=now if archive else None))
    for record_id in ids:
        audit.record(
            session,
            actor,
            "archived" if archive else "restored",
            kind.name,
            record_id,
            summary="Archived" if archive else "Restored from the archive",
            changes={"archived": [not archive, archive]},
        )
    return len(ids)


def close_opportunities(session: Session, actor: Principal | None, selection: Selection, *, now: dt.datetime) -> int:
    """Close the selected involvement opportunities that are published (taking interest); how many closed. Each
    closes as from its own page (``crm.involvement.editing.close``: audited, its page stays and says so); drafts,
    those waiting for approval, turned down or already closed are left as they are."""
    opp = m.InvolvementOpportunity
    published = session.scalars(
        select(opp).where(opp.id.in_(selection.ids), opp.status == m.OpportunityStatus.PUBLISHED).order_by(opp.id)
    ).all()
    for record in published:
        involvement_editing.close(session, record, now, actor=actor)
    session.flush()
    return len(published)


def offered(kind: Kind, actor: Principal | None) -> Mapping[str, str]:
    """The bulk actions a list shows this user: the fellow's (admins) only, as the bulk routes are."""
    return kind.actions if actor is not None and actor.is_admin else {}


def topic_choices(session: Session) -> list[Any]:
    return list(session.execute(select(m.Topic.id, m.Topic.name).order_by(m.Topic.name)))


def contact_list_choices(session: Session) -> list[Any]:
    return list(session.execute(select(m.ContactList.id, m.ContactList.name).order_by(m.ContactList.name)))


def _cell(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return format_datetime(value, "%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return "; ".join(plain(v) for v in value)
    if isinstance(value, enum.Enum):
        return plain(value)
    return safe_cell(value)


def selection_rows(session: Session, kind: Kind, ids: Sequence[int]) -> Iterator[list[str]]:
    """The CSV of a selection on a list whose kind declares its columns: a header, then one row per record in the
    order the confirmation page names them, read 1,000 ids per statement."""
    if kind.export is None:
        raise ValueError(f"{kind.plural} have their own export")
    query = kind.export()
    yield list(kind.export_header) if kind.export_row else [c.name for c in query.selected_columns]
    for start in range(0, len(ids), 1000):
        chunk = list(ids[start : start + 1000])
        for row in session.execute(query.where(kind.model.id.in_(chunk)).order_by(kind.label, kind.model.id)):
            yield [_cell(v) for v in (kind.export_row(row) if kind.export_row else row)]
