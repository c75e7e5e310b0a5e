"""Issue 15.3: any signed event carrying our outbox id settles a send whose outcome was never recorded, whichever
path applies it (batched runs of statistics events or one by one), so it is never sent again."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from crm import models as m
from crm.mailing import dispatch, settlement, webhooks
from tests.mailing.conftest import sign


def _rows(db, statuses):
    msgs = [
        m.OutboxMessage(idempotency_key=f"s{i}", kind="event_news", recipient=f"s{i}@example.org", status=s, bulk=True)
        for i, s in enumerate(statuses)
    ]
    db.add_all(msgs)
    db.commit()
    return [x.id for x in msgs]


@pytest.mark.parametrize(
    "kind", ["processed", "delivered", "deferred", "dropped", "bounce", "open", "click", "spamreport"]
)
def test_each_event_kind_settles_an_ambiguous_or_sending_row_for_good(hook, keypair, db, kind):
    ambiguous, sending, other = _rows(db, [m.OutboxStatus.AMBIGUOUS, m.OutboxStatus.SENDING, m.OutboxStatus.AMBIGUOUS])
    extra = {"type": "blocked", "reason": "421 later"} if kind == "bounce" else {"reason": "Invalid SMTPAPI header"}
    events = [
        # the kind under test on two rows, between statistics events of a third (both paths in one batch)
        {"event": "processed", "sg_event_id": "a", "crm_outbox_id": str(other), "email": "s2@example.org"},
        {"event": kind, "sg_event_id": "b", "crm_outbox_id": str(ambiguous), "email": "s0@example.org", **extra},
        {"event": "delivered", "sg_event_id": "c", "crm_outbox_id": str(other), "email": "s2@example.org"},
        {"event": kind, "sg_event_id": "d", "crm_outbox_id": str(sending), "email": "s1@example.org", **extra},
    ]
    body = json.dumps(events).encode()
    assert hook.post("/webhooks/sendgrid", content=body, headers=sign(keypair[0], body)).status_code == 200
    db.expire_all()
    rows = {r.id: r for r in db.scalars(select(m.OutboxMessage))}
    assert {rows[i].status for i in (ambiguous, sending, other)} == {m.OutboxStatus.SENT}
    # Long after the wait, nothing of it goes back to the queue.
    later = dt.datetime.now(dt.UTC) + settlement.LEASE + settlement.SETTLE_AFTER + dt.timedelta(hours=1)
    with hook.app.state.session_factory() as s:
        assert dispatch.settle(s, later) == (0, 0, 0)
        s.commit()


def test_both_paths_settle_the_same_kinds():
    assert webhooks.RUN_KINDS <= webhooks.SETTLING_EVENTS
    assert {"processed", "delivered", "deferred", "dropped", "bounce"} <= webhooks.SETTLING_EVENTS
