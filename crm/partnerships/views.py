"""Web helpers the partnership admin pages and API share: the clock and a partnership (with its members) or 404."""

from __future__ import annotations

import datetime as dt

from litestar.exceptions import NotFoundException
from sqlalchemy.orm import Session

from crm import models as m
from crm.partnerships import queries


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def partnership_or_404(db: Session, partnership_id: int) -> m.Partnership:
    p = queries.load(db, partnership_id)
    if p is None:
        raise NotFoundException("No such partnership.")
    return p
