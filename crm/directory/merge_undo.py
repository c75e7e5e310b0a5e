"""Undoing a merge from the record's history, for 30 days: the dropped record comes back with its values, links
and history, and every row the merge re-pointed goes back to it.

Why never "all or nothing": people keep working after a merge. A row that has since been deleted or pointed
elsewhere, or a kept field someone edited, is left as it now is and named in ``undo_notes`` (shown on the page),
so undoing never overwrites later work and never loses data.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, delete, select, update
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.accounts.principal import Principal
from crm.directory import contacts, organisations
from crm.directory import merge_fields as fields
from crm.directory.errors import DirectoryError
from crm.errors import NotFound

UNDO_DAYS = 30


def merges_into(session: Session, entity: str, record_id: int, limit: int = 20) -> list[m.RecordMerge]:
    """The merges into one record, newest first (its page lists them with their undo links)."""
    return list(
        session.scalars(
            select(m.RecordMerge)
            .where(m.RecordMerge.entity == entity, m.RecordMerge.keep_id == record_id)
            .order_by(m.RecordMerge.id.desc())
            .limit(limit)
        )
    )


def undoable(merge: m.RecordMerge, now: dt.datetime | None = None) -> str:
    """Why this merge cannot be undone, or ``""`` when it can."""
    now = now or dt.datetime.now(dt.UTC)
    if merge.undone_at is not None:
        return "This merge has already been undone."
    if now - merge.created_at > dt.timedelta(days=UNDO_DAYS):
        return f"A merge can be undone for {UNDO_DAYS} days; this one is older."
    return ""


def get_merge(session: Session, merge_id: int) -> m.RecordMerge:
    merge = session.get(m.RecordMerge, merge_id)
    if merge is None:
        raise NotFound("No such merge.")
    return merge


def _revert_kept(session: Session, merge: m.RecordMerge, notes: list[str]) -> None:
    """The kept record's fields and lists go back to their values before the merge, unless changed since."""
    entity, data, keep_id = merge.entity, merge.data, merge.keep_id
    model = fields.model_for(entity)
    now = fields.values_of(session, entity, keep_id)
    before, after, row = data["keep_values"], data["keep_after"], data["keep_row"]
    values: dict[str, Any] = {}
    for field, kind in fields.fields_for(entity):
        if kind == "list":
            table, own, other = fields.LISTS[entity][field]
            added = set(after[field]) - set(before[field])
            lost = set(before[field]) - set(after[field]) - set(now[field])
            if added:
                session.execute(delete(table).where(table.c[own] == keep_id, table.c[other].in_(added)))
            _insert_links(session, table, own, other, keep_id, lost)
            continue
        if now[field] == before[field]:
            continue
        if now[field] != after[field]:
            notes.append(f"{fields.label(field)} of the kept record was changed after the merge: the new value stays.")
            continue
        if field in ("parent_id", "region_id") and before[field] is not None:
            target = m.Region if field == "region_id" else m.Organisation
            if before[field] == merge.drop_id:
                continue  # pointed at the dropped record: set once it is back (``_restore_dropped``)
            if session.scalar(select(target.id).where(target.id == before[field])) is None:
                notes.append(f"{fields.label(field)} of the kept record was deleted since: it stays empty.")
                continue
        if (
            field == "email"
            and before[field]
            and session.scalar(select(m.Contact.id).where(m.Contact.email == before[field], m.Contact.id != keep_id))
        ):
            notes.append(f"The kept record's old email {before[field]} now belongs to another contact: not put back.")
            continue
        values[field] = before[field]
        if field == "website":
            values["website_domain"] = row["website_domain"]
        if field == "name" and entity == "organisation":
            values["name_normalised"] = row["name_normalised"]
    if values:
        session.execute(update(model.__table__).where(model.__table__.c.id == keep_id).values(values))


def _insert_links(session: Session, table: Any, own: str, other: str, record_id: int, ids: set[int]) -> None:
    vocab = m.Topic if other == "topic_id" else m.Region
    present = set(session.scalars(select(vocab.id).where(vocab.id.in_(ids)))) if ids else set()
    if present:
        session.execute(table.insert(), [{own: record_id, other: i} for i in sorted(present)])


def _restore_dropped(session: Session, merge: m.RecordMerge, notes: list[str]) -> int:
    """The dropped record's row as it was (under its old number unless that was taken since); returns its id."""
    model = fields.model_for(merge.entity)
    row = fields.decode_row(model, merge.data["drop_row"])
    if session.scalar(select(model.id).where(model.id == row["id"])) is not None:
        row.pop("id")
    if merge.entity == "organisation":
        for column, target in (("parent_id", m.Organisation), ("region_id", m.Region)):
            if (
                row.get(column) is not None
                and session.scalar(select(target.id).where(target.id == row[column])) is None
            ):
                notes.append(f"Its {fields.label(column).lower()} was deleted since, so it came back without one.")
                row[column] = None
        if session.scalar(select(m.Organisation.id).where(m.Organisation.slug == row["slug"])):
            row["slug"] = organisations.unique_slug(session, row["name"])
            notes.append(f"Its web address changed to /{row['slug']} (the old one is in use).")
    elif row.get("email") and session.scalar(select(m.Contact.id).where(m.Contact.email == row["email"])):
        notes.append(f"Its email address {row['email']} now belongs to another contact, so it came back without one.")
        row["email"] = None
    restored = session.execute(model.__table__.insert().values(row)).inserted_primary_key[0]
    if restored != merge.drop_id:
        notes.append(f"It came back as number {restored} (its old number had been used again).")
    keep_parent = merge.data["keep_values"].get("parent_id")
    if merge.entity == "organisation" and keep_parent == merge.drop_id:  # the kept record was the dropped one's child
        session.execute(
            update(m.Organisation)
            .where(m.Organisation.id == merge.keep_id, m.Organisation.parent_id.is_(None))
            .values(parent_id=restored)
        )
    for field, (table, own, other) in fields.LISTS[merge.entity].items():
        wanted = set(merge.data["drop_values"][field])
        _insert_links(session, table, own, other, restored, wanted)
        gone = len(wanted) - len(set(fields.list_ids(session, merge.entity, field, restored)))
        if gone:
            notes.append(f"{gone} of its {field} no longer exist{'s' if gone == 1 else ''}.")
    return int(restored)


def _restore_affiliations(session: Session, merge: m.RecordMerge, restored: int, notes: list[str]) -> None:
    a = m.Affiliation
    data, keep_id = merge.data, merge.keep_id
    mine, theirs = (
        (a.organisation_id, a.contact_id) if merge.entity == "organisation" else (a.contact_id, a.organisation_id)
    )
    moved, people = set(data.get("moved_affiliations", [])), set()
    for link in data["drop_affiliations"]:
        other_id = link[theirs.name]
        people.add(link["contact_id"] if merge.entity == "organisation" else restored)
        values = {mine.name: restored, "is_primary": link["is_primary"]}
        if link["id"] in moved:
            done = session.execute(update(a).where(a.id == link["id"], mine == keep_id).values(values)).rowcount
            if not done:
                notes.append(f"A link to {_link_name(session, merge, other_id)} was removed after the merge.")
            continue
        other_model = m.Contact if merge.entity == "organisation" else m.Organisation
        if session.get(other_model, other_id) is None:
            notes.append(
                f"A link to a {'contact' if merge.entity == 'organisation' else 'organisation'} deleted since."
            )
            continue
        again = {**values, theirs.name: other_id, "role": link["role"]}
        if session.scalar(select(a.id).where(a.id == link["id"])) is None:
            again["id"] = link["id"]  # its old number, when nothing took it since
        session.execute(a.__table__.insert().values(again))
    if merge.entity == "contact":
        for link in data["keep_affiliations"]:
            session.execute(
                update(a).where(a.id == link["id"], a.contact_id == keep_id).values(is_primary=link["is_primary"])
            )
        people |= {keep_id}
    for person in people:
        contacts.ensure_one_primary(session, person)


def _link_name(session: Session, merge: m.RecordMerge, other_id: int) -> str:
    model = m.Contact if merge.entity == "organisation" else m.Organisation
    return session.scalar(select(model.name).where(model.id == other_id)) or f"#{other_id}"


def _restore_moved(session: Session, merge: m.RecordMerge, restored: int, notes: list[str]) -> None:
    """Every row another table had pointed at the survivor goes back, unless deleted or re-pointed since."""
    tables = m.Base.metadata.tables
    gone: dict[str, int] = {}
    for name, pk, column in merge.data.get("moved", []):
        table = tables[name]
        key = and_(*[table.c[k] == v for k, v in pk.items() if k != column])  # a moved key column now holds keep_id
        done = session.execute(
            update(table).where(key, table.c[column] == merge.keep_id).values({column: restored})
        ).rowcount
        if not done:
            gone[name] = gone.get(name, 0) + 1
    for name, count in gone.items():
        notes.append(
            f"{count} {name.replace('_', ' ')} row{'s' if count != 1 else ''} moved by the merge "
            "were deleted or changed since and stay as they are."
        )
    session.execute(
        update(m.AuditEntry)
        .where(
            m.AuditEntry.id.in_(merge.data.get("audit_ids", [])),
            m.AuditEntry.entity == merge.entity,
            m.AuditEntry.entity_id == merge.keep_id,
        )
        .values(entity_id=restored)
    )


def undo_merge(
    session: Session, actor: Principal | None, merge_id: int, now: dt.datetime | None = None
) -> m.RecordMerge:
    """Undo one merge; ``merge.undo_notes`` says, in words, what could not be put back."""
    merge = get_merge(session, merge_id)
    refusal = undoable(merge, now)
    if refusal:
        raise DirectoryError(refusal)
    model = fields.model_for(merge.entity)
    keep = session.get(model, merge.keep_id)
    if keep is None:
        raise DirectoryError("The kept record has been deleted since the merge, so the merge cannot be undone.")
    snapshot = organisations.org_snapshot if merge.entity == "organisation" else contacts.contact_snapshot
    keep_before = snapshot(session, keep)
    notes: list[str] = []
    _revert_kept(session, merge, notes)
    restored = _restore_dropped(session, merge, notes)
    _restore_affiliations(session, merge, restored, notes)
    _restore_moved(session, merge, restored, notes)
    merge.undone_at = now or dt.datetime.now(dt.UTC)
    merge.undone_by = actor.email if actor else "system"
    merge.undo_notes = notes
    session.flush()
    session.expire(keep)
    summary = f"undid merge {merge.id}: #{restored} {merge.drop_name} is back"
    audit.record(
        session,
        actor,
        "merge undone",
        merge.entity,
        merge.keep_id,
        summary=summary,
        changes=audit.diff(keep_before, snapshot(session, keep)),
    )
    restored_record = session.get(model, restored)
    audit.record(
        session,
        actor,
        "merge undone",
        merge.entity,
        restored,
        summary=f"restored from merge {merge.id}",
        changes=audit.diff({}, snapshot(session, restored_record)),
    )
    merge.data = {**merge.data, "restored_id": restored}
    return merge
