"""The map's stored tally (issue 19.1, docs/map.md): every figure the regional map shows, counted by a job.

Counting open funding calls or internships over a million rows takes longer than a page may (p95 <= 50 ms), so the
map never counts live: ``crm map refresh`` and the map's job count each measure in one grouped statement and
replace its rows here; a page reads one measure's rows by primary key.

One row per (measure, sub-key, topic, region): ``topic_id`` 0 is "every topic", ``region_id`` 0 is "no region"
and ``region_id`` -1 is the measure's own row, written at every refresh even when nothing was counted, that says
when it was counted. No foreign keys: the zeros are not rows of ``topics`` or ``regions``, and a topic or region
that goes simply drops out at the next refresh.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from crm.models.base import Base

__all__ = ["MapTally"]


class MapTally(Base):
    __tablename__ = "map_tallies"

    measure: Mapped[str] = mapped_column(String(40), primary_key=True)  # "calls", "organisations-public", ...
    sub_key: Mapped[str] = mapped_column(String(60), primary_key=True)  # a kind, category or stage; "" for none
    topic_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # 0: every topic
    region_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # 0: no region; -1: when counted
    count: Mapped[int]
    refreshed_at: Mapped[dt.datetime]
