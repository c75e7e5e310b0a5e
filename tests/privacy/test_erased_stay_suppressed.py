"""An erased address is stored only as a hash, and the dispatcher, subscribe and imports still honour it."""

from __future__ import annotations

from sqlalchemy import select

from crm import models as m
from crm.domains import EXTENSIONS
from crm.mailing.dispatch import drain
from crm.mailing.outbox import enqueue
from crm.mailing.suppression import active_suppression, address_hash, can_receive_bulk
from crm.mailing.transports.local import LocalTransport


def test_hashed_suppression_blocks_dispatch_and_subscribe(app, db, settings):
    db.add(m.Suppression(address=address_hash("Erased@Example.org"), reason="erased"))
    enqueue(
        db,
        app.state.renderer,
        key="after-erasure",
        kind="sign_in",
        to="erased@example.org",
        template="sign_in",
        context={"link": "x", "minutes": 15, "name": ""},
    )
    db.commit()
    assert active_suppression(db, "ERASED@example.org") is not None
    assert can_receive_bulk(db, "erased@example.org") is False
    stats = drain(app.state.session_factory, LocalTransport(), settings, renderers=EXTENSIONS.deferred_renderers)
    assert stats.sent == 0
    row = db.scalar(select(m.OutboxMessage))
    db.refresh(row)
    assert row.status == m.OutboxStatus.SUPPRESSED
    assert can_receive_bulk(db, "someone-else@example.org") is True
