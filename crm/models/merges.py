"""Record merges: what a merge of two contacts or organisations changed, kept so it can be undone for 30 days.

Why a table and not the audit trail: undoing needs the dropped record's every column, both records' links and the
exact rows other tables had re-pointed (``moved``), which people never read; the audit trail keeps what people read
(both records' values in words) and links here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.models.base import Base, utcnow

__all__ = ["RecordMerge"]


class RecordMerge(Base):
    __tablename__ = "record_merges"
    __table_args__ = (Index("ix_record_merges_keep", "entity", "keep_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(40))  # "organisation" or "contact"
    keep_id: Mapped[int]  # no foreign key: the record may be deleted later, the merge's record stays
    drop_id: Mapped[int]
    drop_name: Mapped[str] = mapped_column(String(300), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(320), default="system")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # {"keep_row", "drop_row": every column; "keep_after": the kept row's merged values; "keep_links",
    #  "drop_links": topics/regions/affiliations before; "moved": [[table, {pk}, column], …]; "audit_ids": […]}
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    undone_at: Mapped[dt.datetime | None]
    undone_by: Mapped[str] = mapped_column(String(320), default="")
    undo_notes: Mapped[list[Any]] = mapped_column(default=list)  # what undoing could not restore, in words
