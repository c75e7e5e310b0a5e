"""Web helpers the partnership admin pages and API share: the clock and a partnership (with its members) the
signed-in person may see, or 404."""

from __future__ import annotations

import datetime as dt

from litestar.exceptions import NotFoundException
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.principal import Principal
from crm.partnerships import queries, rules


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def partnership_or_404(db: Session, partnership_id: int, actor: Principal | None) -> m.Partnership:
    """The partnership, when ``actor`` may see it; another organisation's partnership is a 404 for an editor, so
    they cannot even learn which ids exist."""
    p = queries.load(db, partnership_id)
    if p is None or not rules.may_see(actor, (mem.organisation_id for mem in p.members)):
        raise NotFoundException("No such partnership.")
    return p
