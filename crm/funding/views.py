"""Web helpers the funding admin pages and the JSON API share: the clock and a loaded call or a 404."""

from __future__ import annotations

import datetime as dt

from litestar.exceptions import NotFoundException
from sqlalchemy.orm import Session

from crm import models as m
from crm.funding import queries


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def call_or_404(db: Session, call_id: int) -> m.FundingCall:
    """The call with its funder, deadlines, topics and regions loaded (more than ``db.get``), or the 404."""
    call = queries.load_call(db, call_id=call_id)
    if call is None:
        raise NotFoundException("No such funding call.")
    return call
