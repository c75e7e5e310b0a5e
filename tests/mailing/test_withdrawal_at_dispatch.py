"""An event email queued before its reader's one-click unsubscribe is held back at dispatch (issue 15)."""

from __future__ import annotations

from sqlalchemy import select

from crm import models as m
from tests import factories
from tests.digests import helpers as h
from tests.mailing.test_unsubscribe_streams import _dispatch, _invite_everyone, _later, _one_click


def test_an_event_email_queued_before_the_click_stays_back(app, db, settings) -> None:
    """A digest reader without event news, invited as a contact: no suppression, only the consent entry."""
    ts = h.topics(db)
    guest = factories.contact(db, "Invited Reader", "reader@example.org")
    other = factories.contact(db, "Other Guest", "other@example.org")
    h.subscription(db, guest.email, topic_ids=(ts[0].id,), mailings=("funding_digest",))
    _invite_everyone(db, app, "First meet-up")
    first = _dispatch(db, settings, _later())
    assert sorted(e.to for e in first) == sorted([guest.email, other.email])
    _invite_everyone(db, app, "Second meet-up")  # queued now, before the click
    db.commit()
    _one_click(app, next(e for e in first if e.to == guest.email))
    assert [e.to for e in _dispatch(db, settings, _later())] == [other.email]
    held = db.scalars(
        select(m.OutboxMessage).where(m.OutboxMessage.recipient == guest.email, m.OutboxMessage.sent_at.is_(None))
    ).all()
    assert [(r.status, r.last_error) for r in held] == [
        (m.OutboxStatus.SUPPRESSED, "the recipient withdrew from event_news")
    ]
