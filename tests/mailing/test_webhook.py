"""SendGrid Event Webhook: ECDSA signatures, replay window, dedupe, and the effects of each event."""

from __future__ import annotations

import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from crm import models as m
from crm.mailing import suppression
from tests.mailing.conftest import sign


def _post(hook, private, events, **kw):
    body = (json.dumps(events) + "\r\n").encode()
    return hook.post("/webhooks/sendgrid", content=body, headers=sign(private, body, **kw))


def _message(db, status=m.OutboxStatus.SENT, recipient="ann@example.org") -> m.OutboxMessage:
    msg = m.OutboxMessage(
        idempotency_key=f"k-{recipient}-{status}", kind="funding_digest", recipient=recipient, status=status, bulk=True
    )
    db.add(msg)
    db.commit()
    return msg


def test_valid_signature_accepted_and_events_deduplicated(hook, keypair, db):
    msg = _message(db)
    events = [
        {
            "email": "ann@example.org",
            "event": "delivered",
            "sg_event_id": "e1",
            "timestamp": 1700000000,
            "crm_outbox_id": str(msg.id),
        },
        {
            "email": "ann@example.org",
            "event": "open",
            "sg_event_id": "e2",
            "timestamp": 1700000001,
            "crm_outbox_id": str(msg.id),
        },
    ]
    r = _post(hook, keypair[0], events)
    assert r.status_code == 200 and r.json()["new"] == 2
    r = _post(hook, keypair[0], events)
    assert r.status_code == 200 and r.json()["new"] == 0
    assert db.scalar(select(func.count()).select_from(m.DeliveryEvent)) == 2
    db.expire_all()
    assert db.get(m.OutboxMessage, msg.id).delivery_status == "delivered"


def test_bad_signatures_are_403_never_500(hook, keypair, db):
    private = keypair[0]
    body = b'[{"event":"delivered","sg_event_id":"x"}]\r\n'
    headers = sign(private, body)
    tampered = body.replace(b"delivered", b"delivereD")
    assert hook.post("/webhooks/sendgrid", content=tampered, headers=headers).status_code == 403
    reserialised = json.dumps(json.loads(body)).encode()
    assert hook.post("/webhooks/sendgrid", content=reserialised, headers=headers).status_code == 403
    assert (
        hook.post("/webhooks/sendgrid", content=body, headers={"Content-Type": "application/json"}).status_code == 403
    )
    garbage = {**headers, "X-Twilio-Email-Event-Webhook-Signature": "not*base64!!"}
    assert hook.post("/webhooks/sendgrid", content=body, headers=garbage).status_code == 403
    other = ec.generate_private_key(ec.SECP256R1())
    assert hook.post("/webhooks/sendgrid", content=body, headers=sign(other, body)).status_code == 403
    old = str(int(time.time()) - 3 * 86400)
    assert hook.post("/webhooks/sendgrid", content=body, headers=sign(private, body, old)).status_code == 403
    assert db.scalar(select(func.count()).select_from(m.DeliveryEvent)) == 0


def test_non_json_body_is_400(hook, keypair):
    body = b"this is not json"
    assert hook.post("/webhooks/sendgrid", content=body, headers=sign(keypair[0], body)).status_code == 400


def test_webhook_without_configured_key_is_403(client):
    assert client.post("/webhooks/sendgrid", content=b"[]").status_code == 403


def _subscriber(db, email):
    sub = m.Subscription(
        email=email, status=m.SubscriptionStatus.ACTIVE, mailings=["funding_digest"], topics=[], regions=[]
    )
    db.add(sub)
    db.commit()
    return sub


@pytest.mark.parametrize(
    ("event", "suppressed", "status"),
    [
        ({"event": "bounce", "type": "bounce", "reason": "550 no such user"}, "bounce", m.SubscriptionStatus.BOUNCED),
        ({"event": "bounce", "type": "blocked", "reason": "421 try later"}, None, m.SubscriptionStatus.ACTIVE),
        ({"event": "spamreport"}, "complaint", m.SubscriptionStatus.COMPLAINED),
        ({"event": "dropped", "reason": "Unsubscribed Address"}, "unsubscribed", m.SubscriptionStatus.UNSUBSCRIBED),
        ({"event": "dropped", "reason": "Bounced Address"}, "dropped", m.SubscriptionStatus.BOUNCED),
        ({"event": "unsubscribe"}, "unsubscribed", m.SubscriptionStatus.UNSUBSCRIBED),
        ({"event": "click", "url": "https://x"}, None, m.SubscriptionStatus.ACTIVE),
    ],
)
def test_event_effects(hook, keypair, db, event, suppressed, status):
    sub = _subscriber(db, "ann@example.org")
    msg = _message(db)
    payload = {
        "email": "ann@example.org",
        "sg_event_id": "ev1",
        "timestamp": 1700000000,
        "crm_outbox_id": str(msg.id),
        **event,
    }
    assert _post(hook, keypair[0], [payload]).status_code == 200
    assert _post(hook, keypair[0], [payload]).status_code == 200  # a duplicate changes nothing more
    db.expire_all()
    row = suppression.active_suppression(db, "ann@example.org")
    assert (row.reason if row else None) == suppressed
    assert db.get(m.Subscription, sub.id).status == status
    entries = db.scalar(select(func.count()).select_from(m.ConsentEntry))
    assert entries == (0 if status == m.SubscriptionStatus.ACTIVE else 1)


def test_processed_event_settles_an_ambiguous_message(hook, keypair, db):
    msg = _message(db, status=m.OutboxStatus.AMBIGUOUS)
    event = {
        "email": "ann@example.org",
        "event": "processed",
        "sg_event_id": "p1",
        "timestamp": 1700000000,
        "crm_outbox_id": str(msg.id),
    }
    assert _post(hook, keypair[0], [event]).status_code == 200
    db.expire_all()
    assert db.get(m.OutboxMessage, msg.id).status == m.OutboxStatus.SENT
