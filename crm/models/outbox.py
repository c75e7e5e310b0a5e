"""The mail outbox: one row per email, unique by idempotency key, plus suppressions and provider events."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import zlib
from typing import Any

import msgspec
from sqlalchemy import Index, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from crm.models.base import Base, str_enum, utcnow
from crm.models.sent_copy_dictionary import DICTIONARY_V1

COPY_V1 = b"\x01"  # first byte of a stored copy: deflate with DICTIONARY_V1


class OutboxStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    AMBIGUOUS = "ambiguous"
    CANCELLED = "cancelled"


# Rows the dispatcher may claim (crm.mailing.claims.DUE_STATUSES): the predicate of the claim's partial index.
DUE_ORDER_WHERE = "status IN ('queued', 'retry')"
# Rows neither queued nor sent, the few in flight or needing attention: the predicate of the status index.
OTHER_STATES_WHERE = "status NOT IN ('queued', 'sent')"


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        # By status only the rows neither queued nor sent (settling, the admin outbox's filter): an index of every
        # row by status made the claim's plan flip to a sort of the whole backlog (migration 0029).
        Index(
            "ix_outbox_other_states",
            "status",
            "id",
            postgresql_where=text(OTHER_STATES_WHERE),
            sqlite_where=text(OTHER_STATES_WHERE),
        ),
        # The dispatcher's claim reads due rows in this order, LIMIT 1,000 FOR UPDATE SKIP LOCKED: without an index in
        # that order PostgreSQL sorts the whole due backlog under the lock step for every claim (414 ms at 180,000
        # queued; 1.4 ms with it). Partial: only rows that can still be claimed.
        Index(
            "ix_outbox_due_order",
            "next_attempt_at",
            "id",
            postgresql_where=text(DUE_ORDER_WHERE),
            sqlite_where=text(DUE_ORDER_WHERE),
        ),
        Index("ix_outbox_recipient", "recipient"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    bulk: Mapped[bool] = mapped_column(default=False)
    recipient: Mapped[str] = mapped_column(String(320))
    recipient_name: Mapped[str] = mapped_column(String(200), default="")
    subject: Mapped[str] = mapped_column(String(400), default="")
    text_body: Mapped[str | None] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    # Rendering at dispatch time: when bodies are empty, the dispatcher renders ``template`` with ``context``.
    template: Mapped[str | None] = mapped_column(String(100))
    context: Mapped[dict[str, Any] | None]
    status: Mapped[OutboxStatus] = mapped_column(str_enum(OutboxStatus), default=OutboxStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[dt.datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    provider_message_id: Mapped[str] = mapped_column(String(200), default="")
    subscription_id: Mapped[int | None]
    contact_id: Mapped[int | None]
    # The mailing a bulk message belongs to (``Mailing`` value): consent is re-checked against it at claim time.
    mailing: Mapped[str | None] = mapped_column(String(40))
    # Last provider event for this message (processed, delivered, deferred, bounce, dropped, ...).
    delivery_status: Mapped[str] = mapped_column(String(40), default="")
    delivered_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]
    # What the dispatcher handed the transport for a row rendered at dispatch (a digest): text, HTML and headers,
    # deflated JSON (``pack_sent``). Read every message's parts through ``email_parts``.
    sent_copy: Mapped[bytes | None] = mapped_column(LargeBinary)

    @property
    def parts(self) -> EmailParts:
        return email_parts(self.subject, self.text_body, self.html_body, self.headers, self.sent_copy)


@dataclasses.dataclass(frozen=True, slots=True)
class EmailParts:
    subject: str
    text: str | None
    html: str | None
    headers: dict[str, Any]


_ENCODE = msgspec.json.Encoder().encode
# Level 3, memLevel 8: deflate's fast path (no lazy matching, strings inside a long match not hashed), ~15 us a
# digest cheaper than level 6 for ~30 bytes more, paid for by the digest context no longer storing the name and
# frequency (``crm.digests.engine.stored_context``); measured on 3,000 bench digests (bench/digests.py). The format
# is unchanged (raw deflate, the same dictionary, version byte 1): readers do not care about the level.
_DEFLATE_V1 = zlib.compressobj(3, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, DICTIONARY_V1)


def pack_sent(subject: str, text: str, html: str, headers: dict[str, Any]) -> bytes:
    """The copy of a message as sent: UTF-8 JSON, deflated with the preset dictionary (``sent_copy_dictionary``),
    after a version byte. A digest's ~6 kB of text, HTML and headers keep ~0.5 kB: the boilerplate is in the
    dictionary and the links repeated across text, HTML and List-Unsubscribe are stored once."""
    payload = {"subject": subject, "text": text, "html": html, "headers": headers}
    raw = _ENCODE(payload)  # the same compact UTF-8 JSON as json.dumps(ensure_ascii=False), ~10x faster
    deflate = _DEFLATE_V1.copy()  # loading the dictionary once, not per message, saves ~45 us a digest
    return COPY_V1 + deflate.compress(raw) + deflate.flush()


def unpack_sent(copy: bytes) -> dict[str, Any]:
    if copy[:1] != COPY_V1:
        raise ValueError(f"unknown stored-copy format {copy[:1]!r}")
    inflate = zlib.decompressobj(-15, DICTIONARY_V1)
    return json.loads((inflate.decompress(copy[1:]) + inflate.flush()).decode())


def email_parts(
    subject: str, text_body: str | None, html_body: str | None, headers: dict[str, Any] | None, sent_copy: bytes | None
) -> EmailParts:
    """Subject, text, HTML and headers of a message exactly as sent: the stored copy when the dispatcher kept one
    (rows rendered at dispatch), else the bodies stored when it was queued."""
    if sent_copy:
        data = unpack_sent(sent_copy)
        return EmailParts(data["subject"], data["text"], data["html"], dict(data["headers"]))
    return EmailParts(subject, text_body, html_body, dict(headers or {}))


class Suppression(Base):
    """An address we must never email again (bounce, complaint, unsubscribe from all, erasure)."""

    __tablename__ = "suppressions"
    # The admin list's "Newest first" reads this in order (migration 0032).
    __table_args__ = (Index("ix_suppressions_created", "created_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Lower-cased address, or ``sha256:<hex>`` after erasure so the person stays suppressed but unnamed.
    address: Mapped[str] = mapped_column(String(320), unique=True)
    reason: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(80), default="")
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    lifted_at: Mapped[dt.datetime | None]
