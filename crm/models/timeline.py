"""Notes and tasks the fellow adds to a contact or an organisation (issue 17.3), shown on its timeline.

Each belongs to exactly one record: a contact or an organisation (a CHECK keeps it to one). A task has a due date
and an owner (a user); ``done_at`` is set when it is completed and cleared when it is reopened, so "open" and
"overdue" are one indexed comparison each.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.models.base import Base, Timestamped

__all__ = ["TimelineNote", "TimelineTask"]

_ONE_RECORD = "(contact_id IS NULL) <> (organisation_id IS NULL)"


class TimelineNote(Timestamped, Base):
    __tablename__ = "timeline_notes"
    __table_args__ = (
        CheckConstraint(_ONE_RECORD, name="one_record"),
        Index("ix_timeline_notes_contact", "contact_id", "created_at"),
        Index("ix_timeline_notes_organisation", "organisation_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author: Mapped[str] = mapped_column(String(320), default="")


class TimelineTask(Timestamped, Base):
    __tablename__ = "timeline_tasks"
    __table_args__ = (
        CheckConstraint(_ONE_RECORD, name="one_record"),
        Index("ix_timeline_tasks_contact", "contact_id", "created_at"),
        Index("ix_timeline_tasks_organisation", "organisation_id", "created_at"),
        Index("ix_timeline_tasks_owner_open", "owner_id", "done_at", "due_date"),
        Index("ix_timeline_tasks_open_due", "done_at", "due_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    details: Mapped[str] = mapped_column(Text, default="")
    due_date: Mapped[dt.date] = mapped_column(Date)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by: Mapped[str] = mapped_column(String(320), default="")
    done_at: Mapped[dt.datetime | None]
    done_by: Mapped[str] = mapped_column(String(320), default="")
