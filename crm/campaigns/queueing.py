"""Queueing a campaign: one outbox row and one ``campaign_recipients`` row per recipient, in batches, exactly once.

Per batch of ``BATCH_SIZE`` recipients, two SQL statements whatever the batch holds (statements flat in N per
1,000, ``bench/campaigns.py``):

1. ``INSERT … ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, recipient`` of the outbox rows (kind
   ``campaign``, key ``campaign:<id>:<email>``, no bodies: the dispatcher renders them through
   ``crm.campaigns.delivery.render_claimed``; ``context`` holds the campaign id and the footer's "why");
2. ``INSERT … ON CONFLICT (campaign_id, email) DO NOTHING`` of the recipients, each naming its outbox row.

Both go through the driver with pre-serialised JSON and what every row shares written into the statement once,
as the digest engine does (``crm.digests.engine``): 100,000 recipients are a few seconds, not minutes. A caller
that commits after each batch (the worker) can be killed at any point: the rerun inserts only what is missing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import msgspec
from sqlalchemy.orm import Session

from crm import models as m

KIND = "campaign"
TEMPLATE = "campaign"
BATCH_SIZE = 1000  # 10 parameters an outbox row: within SQLite's 32,766 and PostgreSQL's 65,535
_encode = msgspec.json.Encoder().encode


class RecipientLike(Protocol):
    """What ``crm.campaigns.audience.Recipient`` carries (the queue reads only these)."""

    email: str
    name: str
    part: str
    subscription_id: int | None
    contact_id: int | None
    mailing: str
    why: str


def idempotency_key(campaign_id: int, email: str) -> str:
    return f"campaign:{campaign_id}:{email}"


@dataclasses.dataclass(slots=True)
class QueueStats:
    considered: int = 0
    queued: int = 0  # outbox rows inserted by this call
    already: int = 0  # queued by an earlier (interrupted) call
    batches: int = 0


def _literals(dialect: str, now: dt.datetime) -> tuple[str, str, str, str]:
    """(parameter mark, JSON parameter mark, TRUE, now) as this database's SQL."""
    if dialect == "postgresql":
        return "%s", "CAST(%s AS JSONB)", "TRUE", f"CAST('{now.astimezone(dt.UTC).isoformat()}' AS TIMESTAMPTZ)"
    # UTCDateTime stores naive UTC text on SQLite.
    return "?", "?", "1", f"'{now.astimezone(dt.UTC).strftime('%Y-%m-%d %H:%M:%S.%f')}'"


def _statements(dialect: str, now: dt.datetime) -> tuple[Callable[[int], str], Callable[[int], str]]:
    """SQL for n outbox rows and for n recipient rows."""
    p, json_p, true, when = _literals(dialect, now)
    outbox = m.OutboxMessage.__table__.name
    out_columns = (
        "idempotency_key, recipient, recipient_name, context, subscription_id, contact_id, mailing, "
        "kind, bulk, subject, headers, attachments, template, status, attempts, last_error, provider_message_id, "
        "delivery_status, next_attempt_at, created_at"
    )
    out_row = (
        f"({p}, {p}, {p}, {json_p}, {p}, {p}, {p}, '{KIND}', {true}, '', '{{}}', '[]', '{TEMPLATE}', "
        f"'{m.OutboxStatus.QUEUED.value}', 0, '', '', '', {when}, {when})"
    )
    recipients = m.CampaignRecipient.__table__.name
    rec_columns = "campaign_id, email, name, part, subscription_id, contact_id, outbox_id, created_at"
    rec_row = f"({p}, {p}, {p}, {p}, {p}, {p}, {p}, {when})"

    def outbox_sql(n: int) -> str:
        return (
            f"INSERT INTO {outbox} ({out_columns}) VALUES {', '.join([out_row] * n)} "
            "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, recipient"
        )

    def recipients_sql(n: int) -> str:
        return (
            f"INSERT INTO {recipients} ({rec_columns}) VALUES {', '.join([rec_row] * n)} "
            "ON CONFLICT (campaign_id, email) DO NOTHING"
        )

    return outbox_sql, recipients_sql


def unique(recipients: Iterable[RecipientLike]) -> list[RecipientLike]:
    """One per address (lower-cased), the first kept: the audience promises it, the queue does not rely on it."""
    seen: set[str] = set()
    out = []
    for r in recipients:
        email = r.email.strip().lower()
        if email and email not in seen:
            seen.add(email)
            out.append(r)
    return out


def queue_recipients(
    session: Session,
    campaign_id: int,
    recipients: Sequence[RecipientLike],
    now: dt.datetime,
    *,
    after_batch: Callable[[int], None] | None = None,
    batch_size: int | None = None,
) -> QueueStats:
    """Insert the outbox and recipient rows of ``recipients`` (already unique), ``batch_size`` at a time.

    ``after_batch(n)`` runs after each batch (the worker commits there, so a crash loses at most the batch in
    hand; tests inject a crash there). Rows queued by an earlier call are skipped by their keys, never doubled.
    """
    stats = QueueStats()
    batch_size = batch_size or BATCH_SIZE
    outbox_sql, recipients_sql = _statements(session.get_bind().dialect.name, now)
    for start in range(0, len(recipients), batch_size):
        chunk = recipients[start : start + batch_size]
        conn = session.connection()  # after_batch may have committed: the session's connection of this batch
        params: list[Any] = []
        for r in chunk:
            email = r.email.strip().lower()
            context = _encode({"c": campaign_id, "why": r.why}).decode()
            params += (
                idempotency_key(campaign_id, email),
                email,
                (r.name or "")[:200],
                context,
                r.subscription_id,
                r.contact_id,
                r.mailing,
            )
        outbox_ids = dict((row[1], row[0]) for row in conn.exec_driver_sql(outbox_sql(len(chunk)), tuple(params)))
        rows: list[Any] = []
        for r in chunk:
            email = r.email.strip().lower()
            rows += (
                campaign_id,
                email,
                (r.name or "")[:200],
                str(r.part),
                r.subscription_id,
                r.contact_id,
                outbox_ids.get(email),
            )
        conn.exec_driver_sql(recipients_sql(len(chunk)), tuple(rows))
        stats.batches += 1
        stats.considered += len(chunk)
        stats.queued += len(outbox_ids)
        stats.already += len(chunk) - len(outbox_ids)
        if after_batch is not None:
            after_batch(stats.batches)
    return stats
