"""Import batches: one row per CSV import that wrote something, and the per-record old and new values it wrote.

Why: an import that changes what is there must be explainable ("who, when, which file, what changed") and
undoable for 30 days without asking the audit trail, whose entries people read but which nobody restores from.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.models.base import Base, utcnow

__all__ = ["ImportBatch", "ImportChange"]


class ImportBatch(Base):
    __tablename__ = "import_batches"
    __table_args__ = (Index("ix_import_batches_created", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # "organisations" (directory) or "funding_calls"
    filename: Mapped[str] = mapped_column(String(300), default="")
    encoding: Mapped[str] = mapped_column(String(40), default="utf-8")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(320), default="import")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    replaced: Mapped[list[Any]] = mapped_column(default=list)  # the columns the person chose to overwrite
    created: Mapped[int] = mapped_column(default=0)  # records created
    updated: Mapped[int] = mapped_column(default=0)  # matched records with at least one field changed
    unchanged: Mapped[int] = mapped_column(default=0)  # matched records the file changed nothing in
    errors: Mapped[int] = mapped_column(default=0)  # rows skipped because of errors
    problems: Mapped[list[Any]] = mapped_column(default=list)  # the first bad rows: [row, column, message]
    undone_at: Mapped[dt.datetime | None]
    undone_by: Mapped[str] = mapped_column(String(320), default="")
    undo_notes: Mapped[list[Any]] = mapped_column(default=list)  # what undoing kept or left, in words


class ImportChange(Base):
    """One record an import created or changed: ``fields`` is ``{field: [old, new]}`` in plain JSON values."""

    __tablename__ = "import_changes"
    __table_args__ = (Index("ix_import_changes_batch", "batch_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batches.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(40))  # organisation, contact, affiliation, funding_call
    entity_id: Mapped[int]
    action: Mapped[str] = mapped_column(String(20))  # created, updated
    label: Mapped[str] = mapped_column(String(300), default="")
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
