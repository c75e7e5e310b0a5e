"""SendGrid Event Webhook: signature verification and event processing.

The signature is ECDSA P-256 / SHA-256 over ``timestamp + raw body`` (headers
``X-Twilio-Email-Event-Webhook-Signature`` and ``-Timestamp``), verified with ``cryptography`` against the
base64 DER public key in ``CRM_SENDGRID_WEBHOOK_PUBLIC_KEY``. Any failure is a 403, never a 500.

Events are stored once per ``sg_event_id`` (unique) and every state change is idempotent, so SendGrid's
duplicates and retries are harmless.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import logging
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm import models as m
from crm.mailing import subscriptions
from crm.mailing.consent import How
from crm.mailing.suppression import suppress

log = logging.getLogger("crm.mail.webhook")

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
# SendGrid retries for up to 24 h and it is undocumented whether retries carry a fresh timestamp (reference
# notes §2.3): accept timestamps within a day, refuse older ones and ones from the future.
REPLAY_WINDOW = dt.timedelta(hours=24, minutes=10)
FUTURE_SKEW = dt.timedelta(minutes=5)
SUPPRESSING_DROP_REASONS = ("unsubscribed address", "bounced address", "spam reporting address", "invalid")
SETTLING_EVENTS = {"processed", "delivered", "deferred", "open", "click"}


class WebhookRejected(Exception):
    """The request is not a genuine, fresh SendGrid webhook call (→ 403)."""


def verify_signature(public_key_b64: str, signature_b64: str, timestamp: str, body: bytes, now: dt.datetime) -> None:
    if not public_key_b64:
        raise WebhookRejected("no webhook public key is configured")
    if not signature_b64 or not timestamp:
        raise WebhookRejected("missing signature headers")
    try:
        sent_at = dt.datetime.fromtimestamp(int(timestamp), dt.UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise WebhookRejected("bad timestamp") from exc
    if sent_at < now - REPLAY_WINDOW or sent_at > now + FUTURE_SKEW:
        raise WebhookRejected("timestamp outside the replay window")
    try:
        key = serialization.load_der_public_key(base64.b64decode(public_key_b64))
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise WebhookRejected("the configured key is not an EC key")
        signature = base64.b64decode(signature_b64, validate=True)
        key.verify(signature, timestamp.encode("utf-8") + body, ec.ECDSA(hashes.SHA256()))
    except WebhookRejected:
        raise
    except (InvalidSignature, binascii.Error, ValueError, TypeError) as exc:
        raise WebhookRejected("bad signature") from exc


def parse_events(body: bytes) -> list[dict[str, Any]]:
    """A JSON array of event objects; raises ValueError (→ 400) otherwise."""
    data = json.loads(body.decode("utf-8"))
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise ValueError("expected a JSON array of event objects")
    return data


def _outbox_id(event: dict[str, Any]) -> int | None:
    raw = event.get("crm_outbox_id")
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def _occurred(event: dict[str, Any]) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(int(event["timestamp"]), dt.UTC)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return None


def _insert_new(session: Session, events: list[dict[str, Any]], now: dt.datetime) -> list[dict[str, Any]]:
    """Store events not seen before; return only those (dedupe on ``sg_event_id``)."""
    by_id: dict[str, dict[str, Any]] = {}
    for event in events:
        sg_id = str(event.get("sg_event_id") or "")
        if not sg_id:
            # No id to deduplicate on: derive one from the content so a replay is still recognised.
            basis = json.dumps(
                [
                    event.get("sg_message_id"),
                    event.get("event"),
                    event.get("timestamp"),
                    event.get("email"),
                    event.get("url"),
                ],
                default=str,
            )
            sg_id = "derived:" + hashlib.sha256(basis.encode()).hexdigest()
        by_id.setdefault(sg_id[:200], event)
    if not by_id:
        return []
    seen = set(session.scalars(select(m.DeliveryEvent.sg_event_id).where(m.DeliveryEvent.sg_event_id.in_(by_id))))
    fresh = []
    for sg_id, event in by_id.items():
        if sg_id in seen:
            continue
        session.add(
            m.DeliveryEvent(
                sg_event_id=sg_id,
                event=str(event.get("event", ""))[:40],
                email=str(event.get("email", "")).lower()[:320],
                outbox_id=_outbox_id(event),
                sg_message_id=str(event.get("sg_message_id", ""))[:300],
                bounce_type=str(event.get("type", ""))[:40],
                reason=str(event.get("reason", "") or event.get("response", ""))[:2000],
                occurred_at=_occurred(event),
                payload=event,
                received_at=now,
            )
        )
        fresh.append(event)
    session.flush()
    return fresh


def process_events(session: Session, events: list[dict[str, Any]], now: dt.datetime | None = None) -> int:
    """Record new events and apply their effects; returns how many were new."""
    now = now or dt.datetime.now(dt.UTC)
    fresh = _insert_new(session, events, now)
    for event in fresh:
        _apply(session, event, now)
    return len(fresh)


def _set_message(session: Session, outbox_id: int | None, **values: Any) -> None:
    if outbox_id is None:
        return
    session.execute(update(m.OutboxMessage).where(m.OutboxMessage.id == outbox_id).values(**values))


def _apply(session: Session, event: dict[str, Any], now: dt.datetime) -> None:
    kind = str(event.get("event", ""))
    email = str(event.get("email", "")).strip().lower()
    outbox_id = _outbox_id(event)
    reason = str(event.get("reason", "") or "")
    if kind in SETTLING_EVENTS and outbox_id is not None:
        # Provider acceptance settles an ambiguous (or still "sending") message: it was sent, do not resend.
        session.execute(
            update(m.OutboxMessage)
            .where(
                m.OutboxMessage.id == outbox_id,
                m.OutboxMessage.status.in_([m.OutboxStatus.AMBIGUOUS, m.OutboxStatus.SENDING, m.OutboxStatus.RETRY]),
            )
            .values(status=m.OutboxStatus.SENT, sent_at=now, lease_until=None, last_error="settled by provider event")
        )
    if kind in {"processed", "delivered", "deferred"}:
        values: dict[str, Any] = {"delivery_status": kind}
        if kind == "delivered":
            values["delivered_at"] = _occurred(event) or now
        _set_message(session, outbox_id, **values)
    elif kind == "bounce":
        bounce_type = str(event.get("type", "bounce"))
        _set_message(session, outbox_id, delivery_status="blocked" if bounce_type == "blocked" else "bounced")
        if bounce_type != "blocked" and email:
            subscriptions.provider_suppression(session, email, "bounce", f"hard bounce: {reason}"[:500], now)
    elif kind == "dropped":
        _set_message(session, outbox_id, delivery_status="dropped", last_error=f"dropped by SendGrid: {reason}"[:4000])
        if email and reason.strip().lower().startswith(SUPPRESSING_DROP_REASONS):
            label = "complaint" if "spam" in reason.lower() else "dropped"
            if "unsubscribed" in reason.lower():
                subscriptions.unsubscribe(
                    session, email, None, How(mechanism="provider webhook", actor="sendgrid"), now
                )
                suppress(session, email, "unsubscribed", "sendgrid", f"dropped: {reason}", now)
            else:
                subscriptions.provider_suppression(session, email, label, f"dropped: {reason}"[:500], now)
    elif kind == "spamreport":
        _set_message(session, outbox_id, delivery_status="spamreport")
        if email:
            subscriptions.provider_suppression(session, email, "complaint", "spam report", now)
    elif kind in {"unsubscribe", "group_unsubscribe"} and email:
        how = How(mechanism="provider webhook", actor="sendgrid")
        subscriptions.unsubscribe(session, email, None, how, now)
        suppress(session, email, "unsubscribed", "sendgrid", kind, now)
    # open, click, group_resubscribe and anything else: recorded only (statistics).
