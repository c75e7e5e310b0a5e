"""Saved views (issue 17.4): a named set of filters on one admin list, kept per user.

A view stores the list's query string (search, filters, sort) as the list itself writes it, so opening a view is
one link and any filter a list gains later is saved without a schema change.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.models.base import Base, utcnow

__all__ = ["SavedView"]


class SavedView(Base):
    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("user_id", "list_key", "name", name="uq_saved_views_user_list_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    list_key: Mapped[str] = mapped_column(String(40))  # "organisations", "contacts", ...
    name: Mapped[str] = mapped_column(String(100))
    query: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
