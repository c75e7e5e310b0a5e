"""Likely duplicates, and merging two records into one.

Merging keeps one record with the values the person chose field by field (``merge_fields``; without choices the
survivor's values, its empty ones filled from the other, lists joined); moves affiliations, topics, regions and the
audit history; re-points every other table that refers to the merged record (found from the models' foreign keys,
so subscriptions, funding calls, events… follow without the directory knowing them); then deletes the merged record.
Both records' values go in the audit trail, and a ``RecordMerge`` keeps the dropped row, both records' links and
exactly which rows moved, so ``merge_undo`` can put them back for 30 days.

A domain that needs more than re-pointing a foreign key (for example to resolve a uniqueness clash) declares
``merge_contacts`` and/or ``merge_organisations`` hooks ``(session, keep_id, drop_id)`` in the manifest; they arrive
as ``Extensions`` and run before the generic re-pointing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import PrimaryKeyConstraint, UniqueConstraint, and_, delete, func, select, update
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.accounts.principal import Principal
from crm.directory import contacts, organisations
from crm.directory import merge_fields as fields
from crm.directory.errors import DirectoryError
from crm.extensions import Extensions, MergeHook

T = TypeVar("T")

# Tables the directory moves itself (with de-duplication); everything else is re-pointed generically.
_OWN = {"affiliations", "organisation_topics", "contact_topics", "contact_regions", "audit_entries"}

_NOISE = {"the", "ltd", "limited", "cic", "uk", "and", "of", "charity", "cio", "inc", "org"}


def _repoint(session: Session, target_table: str, keep_id: int, drop_id: int) -> list[list[Any]]:
    """Point every other table's reference to the dropped record at the survivor; returns the rows moved as
    ``[table, {primary key}, column]`` so undo moves exactly those back."""
    moved: list[list[Any]] = []
    for table in m.Base.metadata.sorted_tables:
        if table.name in _OWN:
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name == target_table and fk.column.name == "id":
                col = fk.parent
                _refuse_clash(session, table, col, keep_id, drop_id)
                pk = list(table.primary_key.columns)
                rows = session.execute(select(*pk).where(col == drop_id)).all()
                if not rows:
                    continue
                moved += [[table.name, {c.name: v for c, v in zip(pk, r, strict=True)}, col.name] for r in rows]
                session.execute(update(table).where(col == drop_id).values({col.name: keep_id}))
    return moved


def _clashes(session: Session, table: Any, col: Any, keep_id: int, drop_id: int) -> int:
    """How many of the dropped record's rows in ``table`` would break a unique key once pointed at the survivor
    (both invited to one event, both in one list); a domain's merge hook may resolve them first."""
    found = 0
    keys = [c.columns for c in table.constraints if isinstance(c, UniqueConstraint | PrimaryKeyConstraint)]
    keys += [i.columns for i in table.indexes if i.unique]
    for columns in keys:
        if col.name not in columns:
            continue
        other = table.alias("other")
        same = [other.c[c.name] == table.c[c.name] for c in columns if c.name != col.name]
        twin = select(other.c[col.name]).where(other.c[col.name] == keep_id, *same).exists()
        found += session.scalar(select(func.count()).select_from(table).where(col == drop_id, twin)) or 0
    return found


def _refuse_clash(session: Session, table: Any, col: Any, keep_id: int, drop_id: int) -> None:
    clashes = _clashes(session, table, col, keep_id, drop_id)
    if clashes:
        raise DirectoryError(
            f"Both records have {table.name.replace('_', ' ')} for the same thing ({clashes}), which "
            "cannot be joined: remove one of each pair first, then merge. Nothing was changed."
        )


def _refuse_clashes(session: Session, target_table: str, keep_id: int, drop_id: int) -> None:
    """Before anything changes, so a refusal leaves both records as they were whoever calls the merge."""
    for table in m.Base.metadata.sorted_tables:
        if table.name in _OWN:
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name == target_table and fk.column.name == "id":
                _refuse_clash(session, table, fk.parent, keep_id, drop_id)


def _the_pair(session: Session, model: type[T], keep_id: int, drop_id: int, noun: str) -> tuple[T, T]:
    """The survivor and the record merged into it, or the refusal people see."""
    if keep_id == drop_id:
        raise DirectoryError(f"{'An' if noun[0] in 'aeiou' else 'A'} {noun} cannot be merged into itself.")
    keep, drop = session.get(model, keep_id), session.get(model, drop_id)
    if keep is None or drop is None:
        raise DirectoryError(f"One of the {noun}s no longer exists.")
    return keep, drop


def _move_the_rest(
    session: Session, hooks: Sequence[MergeHook], model: Any, entity: str, keep: Any, drop: Any
) -> dict[str, Any]:
    """After the record's own links moved: other domains' hooks, every foreign key, the audit history; then the
    merged record goes and the survivor is re-read. Returns what moved (for undo)."""
    keep_id, drop_id = keep.id, drop.id
    for hook in hooks:
        hook(session, keep_id, drop_id)
    moved = _repoint(session, model.__tablename__, keep_id, drop_id)
    audit_ids = list(
        session.scalars(select(m.AuditEntry.id).where(m.AuditEntry.entity == entity, m.AuditEntry.entity_id == drop_id))
    )
    session.execute(
        update(m.AuditEntry)
        .where(m.AuditEntry.entity == entity, m.AuditEntry.entity_id == drop_id)
        .values(entity_id=keep_id)
    )
    session.expunge(drop)
    session.execute(delete(model).where(model.id == drop_id))
    session.flush()
    session.refresh(keep)
    return {"moved": moved, "audit_ids": audit_ids}


def _name_key(name: str) -> str:
    words = [w for w in re.findall(r"\w+", organisations.normalise_name(name)) if w not in _NOISE]
    return " ".join(words)


# -------------------------------------------------------------------------------------------------- duplicates


def duplicate_organisations(session: Session, limit: int = 200) -> list[dict[str, Any]]:
    """Pairs that look like the same organisation: same charity number, same website domain or similar names."""
    rows = list(
        session.execute(
            select(
                m.Organisation.id,
                m.Organisation.name,
                m.Organisation.charity_number,
                m.Organisation.website_domain,
                m.Organisation.review_status,
            ).order_by(m.Organisation.id)
        )
    )
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for r in rows:
        if r.charity_number:
            groups[("same charity number", r.charity_number.replace(" ", "").upper())].append(r)
        if r.website_domain:
            groups[("same website", r.website_domain)].append(r)
        key = _name_key(r.name)
        if key:
            groups[("similar name", key)].append(r)
    seen: set[tuple[int, int]] = set()
    pairs: list[dict[str, Any]] = []
    for (reason, value), members in groups.items():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                if (a.id, b.id) in seen:
                    continue
                seen.add((a.id, b.id))
                pairs.append({"reason": reason, "value": value, "a": a, "b": b})
                if len(pairs) >= limit:
                    return pairs
    return pairs


def duplicate_contacts(session: Session, limit: int = 200) -> list[dict[str, Any]]:
    """Pairs of contacts with the same name (case-insensitive); flagged more strongly when they share an organisation."""
    c = m.Contact
    lname = func.lower(func.trim(c.name))
    dupe_names = (
        select(lname.label("n")).where(c.erased_at.is_(None)).group_by(lname).having(func.count() > 1).subquery()
    )
    rows = list(
        session.execute(
            select(c.id, c.name, c.email)
            .where(lname.in_(select(dupe_names.c.n)), c.erased_at.is_(None))
            .order_by(lname, c.id)
            .limit(limit * 4)
        )
    )
    orgs: dict[int, set[int]] = defaultdict(set)
    ids = [r.id for r in rows]
    if ids:
        for a in session.execute(
            select(m.Affiliation.contact_id, m.Affiliation.organisation_id).where(m.Affiliation.contact_id.in_(ids))
        ):
            orgs[a.contact_id].add(a.organisation_id)
    by_name: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        by_name[r.name.strip().lower()].append(r)
    pairs: list[dict[str, Any]] = []
    for members in by_name.values():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                shared = orgs[a.id] & orgs[b.id]
                reason = "same name and organisation" if shared else "same name"
                pairs.append({"reason": reason, "a": a, "b": b})
    pairs.sort(key=lambda p: p["reason"] != "same name and organisation")
    return pairs[:limit]


# -------------------------------------------------------------------------------------------------------- merge


class StaleMerge(DirectoryError):
    """One of the records changed after the comparison the person chose from: their choices may no longer hold."""


def _choose(kind: str, choice: str, keep_id: int, drop_id: int, kv: Any, dv: Any) -> Any:
    if choice == str(keep_id):
        return kv
    if choice == str(drop_id):
        return dv
    if choice == "both" and kind == "list":
        return sorted(set(kv) | set(dv))
    if choice == "both" and kind == "text":
        return "\n\n".join(v for v in dict.fromkeys([kv, dv]) if v)
    raise DirectoryError("Choose, for every field, which record's value to keep.")


def _column_value(model: Any, field: str, value: Any) -> Any:
    enum_class = getattr(model.__table__.c[field].type, "enum_class", None)
    return enum_class(value) if enum_class is not None and value is not None else value


def _affiliations(session: Session, column: Any, record_id: int) -> list[dict[str, Any]]:
    table = m.Affiliation.__table__
    return [dict(r) for r in session.execute(select(table).where(column == record_id)).mappings()]


def _merge(
    session: Session,
    hooks: Sequence[MergeHook],
    actor: Principal | None,
    entity: str,
    keep_id: int,
    drop_id: int,
    choices: Mapping[str, str] | None,
    expected: str | None,
) -> Any:
    model = fields.model_for(entity)
    keep, drop = _the_pair(session, model, keep_id, drop_id, entity)
    kv, dv = fields.values_of(session, entity, keep_id), fields.values_of(session, entity, drop_id)
    if expected is not None and expected not in (fields.stamp(kv, dv), fields.stamp(dv, kv)):
        raise StaleMerge("One of the records was changed after you compared them. Look at them again and choose.")
    if not hooks:  # a domain's hook may resolve a clash; without one, refuse before changing anything
        _refuse_clashes(session, model.__tablename__, keep_id, drop_id)
    snapshot = organisations.org_snapshot if entity == "organisation" else contacts.contact_snapshot
    keep_before, drop_before = snapshot(session, keep), snapshot(session, drop)
    own = m.Affiliation.organisation_id if entity == "organisation" else m.Affiliation.contact_id
    data: dict[str, Any] = {
        "keep_row": fields.row_of(session, model, keep_id),
        "drop_row": fields.row_of(session, model, drop_id),
        "keep_values": kv,
        "drop_values": dv,
        "keep_affiliations": _affiliations(session, own, keep_id),
        "drop_affiliations": _affiliations(session, own, drop_id),
    }
    chosen: dict[str, Any] = {}
    for field, kind in fields.fields_for(entity):
        choice = (choices or {}).get(field) or fields.default_choice(kind, keep_id, drop_id, kv[field], dv[field])
        chosen[field] = _choose(kind, choice, keep_id, drop_id, kv[field], dv[field])
    for field, kind in fields.fields_for(entity):
        if kind == "list":
            table, own_col, other = fields.LISTS[entity][field]
            session.execute(delete(table).where(table.c[own_col] == keep_id))
            if chosen[field]:
                session.execute(table.insert(), [{own_col: keep_id, other: v} for v in chosen[field]])
            continue
        value = chosen[field]
        if field == "parent_id" and value in (keep_id, drop_id):
            value = None  # a record cannot be its own parent
        if field == "email" and value and value == dv[field]:
            drop.email = None  # unique: the dropped record lets go of it first
            session.flush()
        setattr(keep, field, _column_value(model, field, value))
        if field == "website":
            keep.website_domain = organisations.website_domain(value or "")
        if field == "name" and entity == "organisation":
            keep.name_normalised = organisations.normalise_name(value)
    session.flush()
    moved_affiliations = _move_affiliations(session, entity, keep_id, drop_id)
    data.update(_move_the_rest(session, hooks, model, entity, keep, drop))
    data["moved_affiliations"] = moved_affiliations
    data["keep_after"] = fields.values_of(session, entity, keep_id)
    drop_name = drop_before["name"]
    record = m.RecordMerge(
        entity=entity,
        keep_id=keep_id,
        drop_id=drop_id,
        drop_name=drop_name[:300],
        user_id=actor.id if actor and actor.id > 0 else None,
        actor=actor.email if actor else "system",
        data=data,
    )
    session.add(record)
    session.flush()
    extra = f" <{dv['email']}>" if entity == "contact" and dv.get("email") else ""
    changes = audit.diff(keep_before, snapshot(session, keep))
    audit.record(
        session,
        actor,
        "merged",
        entity,
        keep_id,
        summary=f"merged in #{drop_id} {drop_name}{extra} (merge {record.id})",
        changes=changes,
    )
    # The dropped record's values, as they were, under its own number (a deletion's entry has the same shape).
    audit.record(
        session,
        actor,
        "merged into",
        entity,
        drop_id,
        summary=f"merged into #{keep_id} {keep.name} (merge {record.id})",
        changes=audit.diff(drop_before, {}),
    )
    return keep


def _move_affiliations(session: Session, entity: str, keep_id: int, drop_id: int) -> list[int]:
    """Move the dropped record's links to people or organisations the survivor does not already have; the ids
    moved are returned for undo (the others go with the dropped record, and undo recreates them)."""
    a = m.Affiliation
    if entity == "organisation":
        mine, theirs = a.organisation_id, a.contact_id
    else:
        mine, theirs = a.contact_id, a.organisation_id
    linked = select(theirs).where(mine == keep_id)
    where = and_(mine == drop_id, theirs.not_in(linked))
    ids = list(session.scalars(select(a.id).where(where)))
    values: dict[str, Any] = {mine.name: keep_id}
    if entity == "contact" and session.scalar(select(a.id).where(a.contact_id == keep_id, a.is_primary.is_(True))):
        values["is_primary"] = False
    if ids:
        session.execute(update(a).where(a.id.in_(ids)).values(values).execution_options(synchronize_session=False))
    if entity == "contact":
        contacts.ensure_one_primary(session, keep_id)
    return ids


def merge_organisations(
    session: Session,
    ext: Extensions,
    actor: Principal | None,
    keep_id: int,
    drop_id: int,
    choices: Mapping[str, str] | None = None,
    expected: str | None = None,
) -> m.Organisation:
    """``choices``: field → the id of the record whose value to keep, or "both" (lists, texts); a field left out
    takes the default the page shows. ``expected``: the comparison's fingerprint; a mismatch raises StaleMerge."""
    return _merge(session, ext.merge_organisations, actor, "organisation", keep_id, drop_id, choices, expected)


def merge_contacts(
    session: Session,
    ext: Extensions,
    actor: Principal | None,
    keep_id: int,
    drop_id: int,
    choices: Mapping[str, str] | None = None,
    expected: str | None = None,
) -> m.Contact:
    """As ``merge_organisations``, for people."""
    return _merge(session, ext.merge_contacts, actor, "contact", keep_id, drop_id, choices, expected)
