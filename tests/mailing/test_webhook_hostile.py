"""The SendGrid Event Webhook against hostile and huge bodies: deep nesting → 400, oversized → 413 (problem
details, never a 500), and a validly signed batch of 80,000 events processed in full on both databases."""

from __future__ import annotations

import json
import logging
import time

import pytest
from sqlalchemy import func, insert, select

from crm import models as m
from crm.mailing import suppression
from crm.mailing.webhook_routes import MAX_BODY_BYTES
from tests.mailing.conftest import sign

NESTED = b"[" * 100_000 + b"]" * 100_000


def _events(db) -> int:
    return db.scalar(select(func.count()).select_from(m.DeliveryEvent))


@pytest.mark.parametrize(
    "body",
    [
        NESTED,
        b'[{"event":"open","sg_event_id":"n1","category":' + NESTED + b"}]",
        b'{"event":"open","sg_event_id":"n2","pool":' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"}",
    ],
    ids=["top-level", "inside-an-event", "objects"],
)
def test_signed_deeply_nested_json_is_a_logged_400(hook, keypair, db, caplog, body):
    with caplog.at_level(logging.WARNING, logger="crm.mail.webhook"):
        r = hook.post("/webhooks/sendgrid", content=body, headers=sign(keypair[0], body))
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 400 and "RecursionError" not in r.text
    assert any("signed webhook body refused" in rec.getMessage() for rec in caplog.records)
    assert _events(db) == 0


def test_unsigned_nested_json_is_refused_before_parsing(hook, caplog):
    with caplog.at_level(logging.WARNING, logger="crm.mail.webhook"):
        r = hook.post("/webhooks/sendgrid", content=NESTED, headers={"Content-Type": "application/json"})
    assert r.status_code == 403
    assert not any("signed webhook body refused" in rec.getMessage() for rec in caplog.records)


def test_moderately_nested_values_are_still_accepted(hook, keypair, db):
    event = {"event": "open", "sg_event_id": "ok1", "category": ["a", "b"], "pool": {"name": "p", "ids": [1, [2]]}}
    body = json.dumps([event]).encode()
    r = hook.post("/webhooks/sendgrid", content=body, headers=sign(keypair[0], body))
    assert r.status_code == 200 and r.json() == {"received": 1, "new": 1}
    assert db.scalar(select(m.DeliveryEvent.payload)) == event


def test_oversized_body_is_413(hook, keypair, db):
    body = b"[" + b" " * MAX_BODY_BYTES + b"]"
    r = hook.post("/webhooks/sendgrid", content=body, headers=sign(keypair[0], body))
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 413

    def chunks():  # no Content-Length: refused while reading
        for _ in range(MAX_BODY_BYTES // (1 << 20) + 2):
            yield b" " * (1 << 20)

    r = hook.post("/webhooks/sendgrid", content=chunks(), headers=sign(keypair[0], b""))
    assert r.status_code == 413
    assert _events(db) == 0


def test_a_signed_batch_of_80000_events_is_processed_in_full(hook, keypair, db):
    n = 80_000
    db.execute(
        insert(m.OutboxMessage),
        [
            {
                "idempotency_key": f"big-{i}",
                "kind": "funding_digest",
                "recipient": f"r{i}@example.org",
                "status": m.OutboxStatus.AMBIGUOUS,
                "bulk": True,
            }
            for i in range(n)
        ],
    )
    db.commit()
    ids = list(db.scalars(select(m.OutboxMessage.id).order_by(m.OutboxMessage.id)))
    kinds = ["delivered", "processed", "open", "deferred", "click"]
    events = []
    for i, outbox_id in enumerate(ids):
        kind = "bounce" if i % 1000 == 999 else kinds[i % len(kinds)]
        events.append(
            {
                "email": f"r{i}@example.org",
                "event": kind,
                "type": "bounce",
                "reason": "550 no such user",
                "sg_event_id": f"big-{i}",
                "sg_message_id": f"msg-{i}.filter0001",
                "timestamp": 1700000000 + i,
                "category": ["funding_digest"],
                "crm_outbox_id": str(outbox_id),
            }
        )
    body = json.dumps(events).encode()
    assert len(body) < MAX_BODY_BYTES
    started = time.perf_counter()
    r = hook.post("/webhooks/sendgrid", content=body, headers=sign(keypair[0], body))
    assert r.status_code == 200, r.text
    assert r.json() == {"received": n, "new": n}
    print(f"80,000 events ({len(body) / 1e6:.1f} MB): {time.perf_counter() - started:.1f} s")
    assert _events(db) == n
    bounces = n // 1000
    by_status = dict(db.execute(select(m.OutboxMessage.status, func.count()).group_by(m.OutboxMessage.status)).all())
    assert by_status == {m.OutboxStatus.SENT: n}  # a bounce proves SendGrid received it too: never sent again
    delivery = dict(
        db.execute(
            select(m.OutboxMessage.delivery_status, func.count()).group_by(m.OutboxMessage.delivery_status)
        ).all()
    )
    # kinds cycle over i % 5, bounces replace i % 1000 == 999 (i % 5 == 4, "click": no delivery status)
    assert delivery["delivered"] == delivery["processed"] == delivery["deferred"] == n // 5
    assert delivery["bounced"] == bounces
    assert db.scalar(select(func.count()).where(m.OutboxMessage.delivered_at.is_not(None))) == n // 5
    assert suppression.active_suppression(db, "r999@example.org").reason == "bounce"
    assert suppression.active_suppression(db, "r998@example.org") is None


def test_odd_values_in_a_signed_event_are_recorded_not_a_failed_batch(hook, keypair, db):
    events = [
        {
            "event": "bounce",
            "type": "bounce",
            "email": "nul\u0000@example.org",
            "reason": "5\u000050",
            "sg_event_id": "o1",
        },
        {"event": "delivered", "sg_event_id": "o2\u0000", "crm_outbox_id": str(10**30), "timestamp": 10**30},
        {"event": "open", "sg_event_id": "o3", "crm_outbox_id": "-5", "big": 10**40},
    ]
    body = json.dumps(events).encode()
    r = hook.post("/webhooks/sendgrid", content=body, headers=sign(keypair[0], body))
    assert r.status_code == 200 and r.json() == {"received": 3, "new": 3}
    assert _events(db) == 3
    assert suppression.active_suppression(db, "nul@example.org").reason == "bounce"
