"""Import batches: every CSV import that is confirmed becomes a batch (who, when, which file, counts) holding the old
and new value of each field it wrote, so its page can explain it and an undo can put things back for 30 days.

The directory and funding importers write a batch through ``start`` / ``add_changes`` / ``finish`` (the changes go
in one executemany per import batch of rows, so a 50,000-row file costs a constant number of statements per 1,000
rows); ``crm.imports.undo`` reads it back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from crm import audit, db
from crm import models as m
from crm.accounts.principal import Principal
from crm.listing import ListParams, Page, SortOption, Sorts, fetch_page

UNDO_DAYS = 30
KEPT_PROBLEMS = 500  # bad rows listed on the batch page (the count covers them all)
KINDS = {"organisations": "Organisations and contacts", "funding_calls": "Funding calls"}
ENTITY = "import_batch"


def actor_name(actor: Principal | None) -> str:
    return actor.email if actor else "command line"


def start(
    session: Session,
    kind: str,
    *,
    actor: Principal | None,
    filename: str = "",
    encoding: str = "UTF-8",
    replaced: Iterable[str] = (),
) -> int:
    """A new batch's id; the importer then records what it writes under it."""
    return int(
        session.scalar(
            insert(m.ImportBatch)
            .values(
                kind=kind,
                filename=(filename or "")[:300],
                encoding=encoding[:40],
                user_id=actor.id if actor and actor.id > 0 else None,
                actor=actor_name(actor),
                created_at=m.utcnow(),
                replaced=sorted(replaced),
                created=0,
                updated=0,
                unchanged=0,
                errors=0,
                problems=[],
                undone_by="",
                undo_notes=[],
            )
            .returning(m.ImportBatch.id)
        )
    )


def add_changes(session: Session, rows: list[dict[str, Any]]) -> None:
    """Record records created or changed (``batch_id, entity, entity_id, action, label, fields``), one statement."""
    if rows:
        for row in rows:
            row["label"] = str(row.get("label", ""))[:300]
        session.execute(m.ImportChange.__table__.insert(), rows)


def finish(
    session: Session,
    batch_id: int,
    actor: Principal | None,
    *,
    created: int,
    updated: int,
    unchanged: int,
    errors: int,
    problems: list[tuple[int, str, str]],
    summary: str,
    analyze: Sequence[str] = (),
) -> None:
    """Store the counts and the first bad rows, audit the import under the batch, and refresh the planner's
    statistics of the ``analyze`` tables it filled (``crm.db.analyze``)."""
    session.execute(
        update(m.ImportBatch)
        .where(m.ImportBatch.id == batch_id)
        .values(
            created=created,
            updated=updated,
            unchanged=unchanged,
            errors=errors,
            problems=[list(p) for p in problems[:KEPT_PROBLEMS]],
        )
    )
    audit.record(
        session,
        actor,
        "imported",
        ENTITY,
        batch_id,
        summary=summary,
        changes={"created": [None, created], "updated": [None, updated], "unchanged": [None, unchanged]},
    )
    session.flush()
    if created:
        db.analyze(session, *analyze)


def recent(session: Session, limit: int = 50, kind: str | None = None) -> list[m.ImportBatch]:
    """The newest batches first."""
    query = select(m.ImportBatch).order_by(m.ImportBatch.id.desc()).limit(limit)
    if kind:
        query = query.where(m.ImportBatch.kind == kind)
    return list(session.scalars(query))


B = m.ImportBatch
LIST_SORTS = Sorts(SortOption("-id", "Newest first", B.id, descending=True))
LIST_FILTERS = ("kind",)


def list_page(session: Session, params: ListParams) -> Page:
    """One page of /admin/imports, newest first: keyset-paged (one statement, one more for the capped count) so
    every batch is reachable, not only the newest 200. ``q`` is part of the file's name, in any case; the ``kind``
    filter is directory or funding imports. Only the columns the table shows (not the stored bad rows)."""
    query = select(
        B.id, B.kind, B.filename, B.actor, B.created_at, B.created, B.updated, B.unchanged, B.errors, B.undone_at
    )
    if (kind := params.filters.get("kind")) in KINDS:
        query = query.where(B.kind == kind)
    if q := params.q.strip().lower():
        query = query.where(func.lower(B.filename).contains(q, autoescape=True))
    return fetch_page(session, query, params, LIST_SORTS, id_column=B.id, count=True)


def get(session: Session, batch_id: int) -> m.ImportBatch | None:
    return session.get(m.ImportBatch, batch_id)


def changes(session: Session, batch_id: int, limit: int | None = None) -> list[m.ImportChange]:
    query = select(m.ImportChange).where(m.ImportChange.batch_id == batch_id).order_by(m.ImportChange.id)
    if limit:
        query = query.limit(limit)
    return list(session.scalars(query))


def change_count(session: Session, batch_id: int) -> int:
    return session.scalar(select(func.count()).where(m.ImportChange.batch_id == batch_id)) or 0


def undo_refusal(batch: m.ImportBatch, now: dt.datetime) -> str:
    """Why this batch cannot be undone now, or "" when it can."""
    if batch.undone_at is not None:
        return "This import has already been undone."
    if batch.created_at < now - dt.timedelta(days=UNDO_DAYS):
        return f"Imports can be undone for {UNDO_DAYS} days; this one is older."
    return ""


def undo_until(batch: m.ImportBatch) -> dt.datetime:
    return batch.created_at + dt.timedelta(days=UNDO_DAYS)
