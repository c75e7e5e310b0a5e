"""Small factories for the events tests (invented names only)."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy.orm import Session

from crm import models as m
from crm.events import lifecycle
from crm.events.mail import Mailer

NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
_n = itertools.count(1)


def mailer(app) -> Mailer:
    return Mailer(app.state.renderer, app.state.signer, app.state.settings)


def event(db: Session, app, *, publish: bool = True, days: int = 30, now: dt.datetime = NOW, **values) -> m.Event:
    """An event ``days`` after ``now`` (tests of HTTP routes pass the real time: the app uses the clock)."""
    start = (now + dt.timedelta(days=days)).replace(microsecond=0)
    data = {
        "title": values.pop("title", "Funding call networking, London"),
        "description": "Meet researchers and charities.",
        "starts_at": start,
        "ends_at": start + dt.timedelta(hours=2),
        "venue": "Friends Room, 1 Example Street",
        "reminder_offsets_hours": [168, 24],
        "offer_hold_hours": 48,
        "offers_stop_hours": 24,
        **values,
    }
    e = lifecycle.create_event(db, None, app.state.settings.base_url, data)
    if publish:
        lifecycle.publish_event(db, None, e, now)
    db.flush()
    return e


def invite(db: Session, e: m.Event, c: m.Contact, *, is_vcse: bool = True) -> m.Invitation:
    inv = m.Invitation(event_id=e.id, contact_id=c.id, is_vcse=is_vcse, invited_at=NOW)
    db.add(inv)
    db.flush()
    return inv
