"""Undoing an import batch (within 30 days): fields it changed go back, records it created go, and nothing anyone did
since is lost.

* A changed field goes back to its old value only while it still holds the value the import wrote; a field edited
  after the import is left as it is, and the result says which ("Mind: Description was changed after the import").
* Links the import made (a contact to an organisation, topics added to an organisation) are removed.
* A record the import created is deleted unless something else now refers to it (a partnership, a funding call, an
  event, a subscription…: every foreign key to its table is asked, a constant number of statements per 1,000
  records, and organisations also through the directory's ``organisation_references``); then it is kept and the result
  says which and why.
* The undo is audited on the batch and on every record it touched; the batch remembers when, by whom and what it kept.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.accounts.principal import Principal
from crm.csvimport import Field, plain
from crm.directory.import_batch import CONTACT_FIELDS, ORG_FIELDS
from crm.directory.references import organisation_references
from crm.errors import FieldErrors
from crm.extensions import Extensions
from crm.funding import import_values
from crm.imports import batches

CHUNK = 1000
# Rows that belong to a record (removed with it) rather than refer to it.
OWNED = {
    "organisations": {"organisation_topics"},
    "contacts": {"contact_topics", "contact_regions"},
    "funding_calls": {"funding_call_deadlines", "funding_call_topics", "funding_call_regions"},
}
NOUNS = {"organisation": "Organisation", "contact": "Contact", "funding_call": "Funding call"}


class UndoRefused(FieldErrors):
    """This batch cannot be undone (already undone, or older than 30 days)."""


@dataclasses.dataclass(slots=True)
class UndoResult:
    restored: int = 0  # records with at least one field put back
    removed: int = 0  # created records deleted
    unlinked: int = 0  # links the import made, removed
    kept: list[str] = dataclasses.field(default_factory=list)  # created records kept, and why
    left: list[str] = dataclasses.field(default_factory=list)  # fields edited since, left as they are

    def summary(self) -> str:
        return (
            f"Undone: {self.restored} record(s) put back, {self.removed} created record(s) removed, "
            f"{self.unlinked} link(s) removed; {len(self.kept)} record(s) kept, {len(self.left)} field(s) left as "
            "edited since."
        )


def undo(session: Session, actor: Principal | None, batch_id: int, ext: Extensions, *, now: dt.datetime) -> UndoResult:
    batch = batches.get(session, batch_id)
    if batch is None:
        raise UndoRefused({"batch": "No such import."})
    refusal = batches.undo_refusal(batch, now)
    if refusal:
        raise UndoRefused({"batch": refusal})
    result = UndoResult()
    source = f"undo of import #{batch.id}"
    # Newest change first, so a record changed twice by one import ends at its value before the import.
    for chunk in _chunks(session, batch.id, "updated"):
        by_entity: dict[str, list[Any]] = defaultdict(list)
        for change in chunk:
            by_entity[change.entity].append(change)
        _restore(session, actor, m.Organisation, ORG_FIELDS, by_entity["organisation"], result, source, now)
        _restore(session, actor, m.Contact, CONTACT_FIELDS, by_entity["contact"], result, source, now)
        for change in by_entity["funding_call"]:
            left = import_values.restore_call(session, actor, change.entity_id, change.fields, now=now, source=source)
            if left is None:
                result.kept.append(f"Funding call '{change.label}' no longer exists; nothing to put back.")
                continue
            result.left.extend(f"{change.label}: {what}" for what in left)
            result.restored += len(left) < len(change.fields)
    for chunk in _chunks(session, batch.id, "created"):
        _unlink(session, actor, [c for c in chunk if c.entity == "affiliation"], result)
    for entity, model in (("contact", m.Contact), ("organisation", m.Organisation), ("funding_call", m.FundingCall)):
        for chunk in _chunks(session, batch.id, "created", entity):
            _remove_created(session, actor, model, entity, chunk, ext, result, source)
    batch.undone_at = now
    batch.undone_by = batches.actor_name(actor)
    batch.undo_notes = result.kept + result.left
    audit.record(
        session, actor, "import undone", batches.ENTITY, batch.id, summary=result.summary(),
        changes={"undone_at": [None, now.isoformat()]},
    )  # fmt: skip
    session.flush()
    return result


def _chunks(session: Session, batch_id: int, action: str, entity: str | None = None) -> Iterator[list[Any]]:
    """The batch's changes of one action, newest first, ``CHUNK`` at a time, as plain rows (memory stays flat on big
    imports: no ORM objects pile up in the session)."""
    after: int | None = None
    while True:
        c = m.ImportChange
        query = select(c.id, c.entity, c.entity_id, c.label, c.fields).where(c.batch_id == batch_id, c.action == action)
        if entity:
            query = query.where(m.ImportChange.entity == entity)
        if after is not None:
            query = query.where(m.ImportChange.id < after)
        chunk = list(session.execute(query.order_by(m.ImportChange.id.desc()).limit(CHUNK)))
        if not chunk:
            return
        yield chunk
        after = chunk[-1].id


def _restore(
    session: Session,
    actor: Principal | None,
    model: Any,
    fields: Sequence[Field],
    changes: list[Any],
    result: UndoResult,
    source: str,
    now: dt.datetime,
) -> None:
    """Put back the fields of one kind of record that still hold what the import wrote (one read, one executemany)."""
    if not changes:
        return
    labels = {f.name: f.label for f in fields} | {"topics": "Topics", "website_domain": ""}
    columns = [c for c in {f.name for f in fields} | {"website_domain"} if hasattr(model, c)]
    ids = {c.entity_id for c in changes}
    now_values = {
        r.id: r._asdict() for r in session.execute(select(model.id, *(getattr(model, c) for c in columns)).where(model.id.in_(ids)))
    }  # fmt: skip
    topics: dict[int, set[int]] = defaultdict(set)
    links = m.organisation_topics.c
    if model is m.Organisation:
        for oid, tid in session.execute(
            select(links.organisation_id, links.topic_id).where(links.organisation_id.in_(ids))
        ):
            topics[oid].add(tid)
    entity = "organisation" if model is m.Organisation else "contact"
    topic_names = dict(session.execute(select(m.Topic.id, m.Topic.name)).all()) if model is m.Organisation else {}

    def _names(field: str, value: Any) -> Any:  # topics by name in the history, as the form records them
        return [topic_names.get(v, v) for v in value] if field == "topics" else value

    updates: list[dict[str, Any]] = []
    audit_rows: list[dict[str, Any]] = []
    for change in changes:
        current = now_values.get(change.entity_id)
        if current is None:
            result.kept.append(f"{NOUNS[entity]} '{change.label}' no longer exists; nothing to put back.")
            continue
        back: dict[str, Any] = {}
        for field, (old, new) in change.fields.items():
            if field == "topics":
                if topics[change.entity_id] == set(new):
                    added = set(new) - set(old)
                    session.execute(
                        delete(m.organisation_topics).where(
                            links.organisation_id == change.entity_id, links.topic_id.in_(added)
                        )
                    )
                    back["topics"] = old
                else:
                    result.left.append(f"{change.label}: Topics were changed after the import; left as they are.")
            elif plain(current.get(field)) == new:
                back[field] = old
            elif labels.get(field):
                result.left.append(f"{change.label}: {labels[field]} was changed after the import; left as it is.")
        values = {k: v for k, v in back.items() if k != "topics"}
        if values:
            updates.append({**values, "id": change.entity_id, "updated_at": now})
        if back:
            result.restored += 1
            audit_rows.append(
                {
                    "entity_id": change.entity_id,
                    "summary": f"{change.label} ({source})",
                    "changes": {
                        k: [_names(k, change.fields[k][1]), _names(k, v)] for k, v in back.items() if labels.get(k, k)
                    },
                }
            )
    if updates:
        session.execute(update(model), updates)
    _audit_many(session, actor, "import undone", entity, audit_rows)


def _unlink(session: Session, actor: Principal | None, changes: list[Any], result: UndoResult) -> None:
    """Remove the contact-organisation links the import made (those still there), then give every contact that lost
    its primary link another one: a constant number of statements per chunk."""
    if not changes:
        return
    a = m.Affiliation
    made = {(c.entity_id, c.fields["organisation_id"][1]): c for c in changes}
    found = list(
        session.execute(
            select(a.id, a.contact_id, a.organisation_id, a.is_primary).where(
                a.contact_id.in_({cid for cid, _ in made}), a.organisation_id.in_({oid for _, oid in made})
            )
        )
    )
    gone = [r for r in found if (r.contact_id, r.organisation_id) in made]
    if not gone:
        return
    session.execute(delete(a).where(a.id.in_([r.id for r in gone])).execution_options(synchronize_session=False))
    result.unlinked += len(gone)
    _audit_many(
        session, actor, "import undone", "contact",
        [{"entity_id": r.contact_id, "summary": f"unlinked from organisation #{r.organisation_id}",
          "changes": {"role": [made[(r.contact_id, r.organisation_id)].fields["role"][1], None]}} for r in gone],
    )  # fmt: skip
    lost_primary = {r.contact_id for r in gone if r.is_primary}
    if lost_primary:
        first: dict[int, int] = {}
        has_primary = set()
        for r in session.execute(
            select(a.id, a.contact_id, a.is_primary).where(a.contact_id.in_(lost_primary)).order_by(a.id)
        ):
            first.setdefault(r.contact_id, r.id)
            if r.is_primary:
                has_primary.add(r.contact_id)
        promote = [{"id": aid, "is_primary": True} for cid, aid in first.items() if cid not in has_primary]
        if promote:
            session.execute(update(a), promote)


def _audit_many(
    session: Session, actor: Principal | None, action: str, entity: str, rows: list[dict[str, Any]]
) -> None:
    """Audit entries for many records in one statement (``entity_id``, ``summary``, ``changes`` per row)."""
    if rows:
        now = m.utcnow()
        who = {"user_id": actor.id if actor and actor.id > 0 else None, "actor": batches.actor_name(actor)}
        session.execute(
            m.AuditEntry.__table__.insert(),
            [
                {**who, "at": now, "action": action, "entity": entity, **row, "summary": row["summary"][:500]}
                for row in rows
            ],
        )


def _referrers(session: Session, table: Table, ids: set[int]) -> dict[int, list[str]]:
    """Per record, the other tables that still refer to it ("2 partnership members"): one grouped count per
    foreign key to ``table``, whatever the number of records."""
    out: dict[int, list[str]] = defaultdict(list)
    for other in m.Base.metadata.sorted_tables:
        if other.name in OWNED.get(table.name, ()):
            continue
        for fk in other.foreign_keys:
            if fk.column.table.name != table.name or fk.column.name != "id":
                continue
            col = fk.parent
            for record_id, n in session.execute(select(col, func.count()).where(col.in_(ids)).group_by(col)):
                noun = other.name.replace("_", " ")
                out[record_id].append(f"{n} {noun[:-1] if n == 1 and noun.endswith('s') else noun}")
    return out


def _remove_created(
    session: Session,
    actor: Principal | None,
    model: Any,
    entity: str,
    changes: list[Any],
    ext: Extensions,
    result: UndoResult,
    source: str,
) -> None:
    ids = {c.entity_id for c in changes}
    present = set(session.scalars(select(model.id).where(model.id.in_(ids))))
    referred = _referrers(session, model.__table__, present)
    removable = []
    for change in changes:
        if change.entity_id not in present:
            continue
        reasons = referred.get(change.entity_id)
        if reasons and entity == "organisation":
            reasons = organisation_references(session, change.entity_id, ext) or reasons
        if reasons:
            result.kept.append(
                f"{NOUNS[entity]} '{change.label}' was kept: something now refers to it ({'; '.join(reasons)})."
            )
            continue
        removable.append(change)
    if not removable:
        return
    gone = [c.entity_id for c in removable]
    for owned in OWNED[model.__tablename__]:
        table = m.Base.metadata.tables[owned]
        for fk in table.foreign_keys:
            if fk.column.table.name == model.__tablename__:
                session.execute(delete(table).where(fk.parent.in_(gone)))
    session.execute(delete(model).where(model.id.in_(gone)).execution_options(synchronize_session=False))
    result.removed += len(gone)
    _audit_many(
        session, actor, "deleted", entity,
        [{"entity_id": c.entity_id, "summary": f"{c.label} ({source})", "changes": {}} for c in removable],
    )  # fmt: skip
