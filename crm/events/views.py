"""Web helpers the events pages, admin pages and API share: the clock, the mailer built from the app state and
an event by id or 404."""

from __future__ import annotations

import datetime as dt

from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from sqlalchemy.orm import Session

from crm import models as m
from crm.events.mail import Mailer


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def mailer(state: State) -> Mailer:
    return Mailer(state.renderer, state.signer, state.settings)


def event_or_404(db: Session, event_id: int) -> m.Event:
    event = db.get(m.Event, event_id)
    if event is None:
        raise NotFoundException("No such event.")
    return event
