"""SendGrid Event Webhook: signature verification and event processing.

The signature is ECDSA P-256 / SHA-256 over ``timestamp + raw body`` (headers
``X-Twilio-Email-Event-Webhook-Signature`` and ``-Timestamp``), verified with ``cryptography`` against the
base64 DER public key in ``CRM_SENDGRID_WEBHOOK_PUBLIC_KEY``. Any failure is a 403, never a 500.

Events are stored once per ``sg_event_id`` (unique) and every state change is idempotent, so SendGrid's
duplicates and retries are harmless.

Hostile or huge bodies: the body is parsed only after the signature is verified, with a typed decoder whose
nesting is bounded (``MAX_VALUE_DEPTH`` inside an event), so deep nesting is a ValueError (→ 400), never a
RecursionError. Every IN list and insert is chunked (``crm.db.batched``), and consecutive statistics events
(processed, delivered, deferred, open, click) are applied as one statement per chunk, so a batch of 80,000
events stays under PostgreSQL's 65,535 bound parameters and takes seconds, not minutes.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import logging
from typing import Any

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from crm import models as m
from crm.db import batched, insert_ignore
from crm.jsonbody import bounded_value
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
# Any event about one of our messages proves SendGrid received it, so it settles a send whose outcome we never
# recorded (ambiguous, or still "sending" after a crash) as sent and it is never sent again: a dropped or bounced
# message was received too (sending it again would only be dropped or bounce again).
SETTLING_EVENTS = frozenset(
    {
        "processed",
        "delivered",
        "deferred",
        "dropped",
        "bounce",
        "open",
        "click",
        "spamreport",
        "unsubscribe",
        "group_unsubscribe",
        "group_resubscribe",
    }
)


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


# A JSON value nested at most MAX_VALUE_DEPTH levels inside an event (SendGrid's own are at most 2 deep:
# ``category`` lists, ``pool`` objects). Typed, so the decoder refuses deeper nesting without recursing.
MAX_VALUE_DEPTH = 8
_Value: Any = bounded_value(MAX_VALUE_DEPTH)
_EVENTS = msgspec.json.Decoder(list[dict[str, _Value]] | dict[str, _Value])  # type: ignore[valid-type]


def parse_events(body: bytes) -> list[dict[str, Any]]:
    """A JSON array of event objects (or one object); raises ValueError (→ 400) otherwise, deep nesting included."""
    try:
        data = _EVENTS.decode(body)
    except msgspec.ValidationError as exc:
        raise ValueError(f"expected a JSON array of event objects: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise ValueError(f"not valid JSON: {exc}") from exc
    events = [data] if isinstance(data, dict) else data
    if b"\\u0000" in body:  # the only way JSON spells NUL, which PostgreSQL's text and jsonb refuse
        events = [_without_nul(event) for event in events]
    return events


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    return value


def _outbox_id(event: dict[str, Any]) -> int | None:
    """Our message id from ``custom_args``; None if absent or not an id the database could hold."""
    raw = event.get("crm_outbox_id")
    try:
        value = int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None
    return value if value is not None and 0 < value < 2**31 else None


def _text(value: Any, limit: int) -> str:
    """A column value: PostgreSQL text cannot hold NUL, so one in an event is dropped rather than failing the batch."""
    return str(value).replace("\x00", "")[:limit]


def _occurred(event: dict[str, Any]) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(int(event["timestamp"]), dt.UTC)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return None


def _event_id(event: dict[str, Any]) -> str:
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
    return _text(sg_id, 200)


def _insert_new(session: Session, events: list[dict[str, Any]], now: dt.datetime) -> list[dict[str, Any]]:
    """Store events not seen before; return only those (dedupe on ``sg_event_id``), in chunks of bound parameters.

    No "which of these exist?" SELECT first: on a freshly filled table PostgreSQL planned its IN list as a
    sequential scan (0.3 s per 1,000 ids), while ON CONFLICT always checks the unique index."""
    by_id: dict[str, dict[str, Any]] = {}
    for event in events:
        by_id.setdefault(_event_id(event), event)
    fresh = list(by_id.items())
    rows = [
        {
            "sg_event_id": sg_id,
            "event": _text(event.get("event", ""), 40),
            "email": _text(event.get("email", ""), 320).lower(),
            "outbox_id": _outbox_id(event),
            "sg_message_id": _text(event.get("sg_message_id", ""), 300),
            "bounce_type": _text(event.get("type", ""), 40),
            "reason": _text(event.get("reason", "") or event.get("response", ""), 2000),
            "occurred_at": _occurred(event),
            "payload": event,
            "received_at": now,
        }
        for sg_id, event in fresh
    ]
    # ON CONFLICT DO NOTHING RETURNING: an event stored before (a retry, or a concurrent request) is skipped, not a
    # 500, and not applied twice; RETURNING also lets SQLAlchemy send many rows per INSERT ("insertmanyvalues").
    table = m.DeliveryEvent.__table__
    statement = insert_ignore(session.get_bind().dialect.name, table, ["sg_event_id"]).returning(table.c.sg_event_id)
    stored: set[str] = set()
    for chunk in batched(rows):
        stored.update(session.scalars(statement, list(chunk)))
    return [event for sg_id, event in fresh if sg_id in stored]


# Events whose only effects are settling the message and its delivery status: consecutive ones are applied
# together (order within such a run cannot change the outcome); any other kind is applied on its own, in order.
RUN_KINDS = frozenset({"processed", "delivered", "deferred", "open", "click"})
STATUS_KINDS = ("processed", "delivered", "deferred")
SETTLEABLE = (m.OutboxStatus.AMBIGUOUS, m.OutboxStatus.SENDING, m.OutboxStatus.RETRY)
SETTLED_NOTE = "settled by a provider event: SendGrid received it"


def process_events(session: Session, events: list[dict[str, Any]], now: dt.datetime | None = None) -> int:
    """Record new events and apply their effects in order; returns how many were new."""
    now = now or dt.datetime.now(dt.UTC)
    fresh = _insert_new(session, events, now)
    run: list[dict[str, Any]] = []
    for event in fresh:
        if str(event.get("event", "")) in RUN_KINDS:
            run.append(event)
            continue
        _apply_run(session, run, now)
        run = []
        _apply(session, event, now)
    _apply_run(session, run, now)
    return len(fresh)


def _apply_run(session: Session, run: list[dict[str, Any]], now: dt.datetime) -> None:
    """What ``_apply`` does to each event of ``run``, in a few chunked statements."""
    settle: set[int] = set()
    status: dict[int, dict[str, Any]] = {}  # outbox id -> its last delivery status (and delivery time)
    for event in run:
        kind, outbox_id = str(event.get("event", "")), _outbox_id(event)
        if outbox_id is None:
            continue
        if kind in SETTLING_EVENTS:
            settle.add(outbox_id)
        if kind in STATUS_KINDS:
            values = status.setdefault(outbox_id, {})
            values["delivery_status"] = kind
            if kind == "delivered":
                values["delivered_at"] = _occurred(event) or now
    table = m.OutboxMessage.__table__
    for chunk in batched(sorted(settle)):
        # Provider acceptance settles an ambiguous (or still "sending") message: it was sent, do not resend.
        session.execute(
            update(table)
            .where(table.c.id.in_(chunk), table.c.status.in_(SETTLEABLE))
            .values(status=m.OutboxStatus.SENT, sent_at=now, lease_until=None, last_error=SETTLED_NOTE)
        )
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for outbox_id, values in status.items():
        row = {"b_id": outbox_id, **{f"b_{key}": value for key, value in values.items()}}
        by_columns.setdefault(tuple(sorted(values)), []).append(row)
    for columns, rows in by_columns.items():
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values({column: bindparam(f"b_{column}") for column in columns})
        )
        for chunk in batched(rows):
            session.execute(statement, list(chunk))


def _set_message(session: Session, outbox_id: int | None, **values: Any) -> None:
    if outbox_id is None:
        return
    session.execute(update(m.OutboxMessage).where(m.OutboxMessage.id == outbox_id).values(**values))


def _apply(session: Session, event: dict[str, Any], now: dt.datetime) -> None:
    kind = str(event.get("event", ""))
    email = _text(event.get("email", ""), 320).strip().lower()
    outbox_id = _outbox_id(event)
    reason = _text(event.get("reason", "") or "", 2000)
    if kind in SETTLING_EVENTS and outbox_id is not None:
        # Provider acceptance settles an ambiguous (or still "sending") message: it was sent, do not resend. The
        # same statement as _apply_run's, so both paths agree; a dropped event's reason is written just after.
        session.execute(
            update(m.OutboxMessage)
            .where(m.OutboxMessage.id == outbox_id, m.OutboxMessage.status.in_(SETTLEABLE))
            .values(status=m.OutboxStatus.SENT, sent_at=now, lease_until=None, last_error=SETTLED_NOTE)
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
