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


def org(db: Session, name: str = "", kind: m.OrgKind = m.OrgKind.VCSE) -> m.Organisation:
    n = next(_n)
    name = name or f"Test Org {n}"
    o = m.Organisation(name=name, name_normalised=name.lower(), slug=f"test-org-{n}", kind=kind)
    db.add(o)
    db.flush()
    return o


def contact(
    db: Session, name: str = "", *, organisation: m.Organisation | None = None, email: str | None = ""
) -> m.Contact:
    n = next(_n)
    c = m.Contact(name=name or f"Person {n}", email=(email if email != "" else f"person{n}@example.org"))
    db.add(c)
    db.flush()
    if organisation is not None:
        db.add(m.Affiliation(contact_id=c.id, organisation_id=organisation.id, is_primary=True))
        db.flush()
    return c


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
