"""The outbox dispatcher: claim due rows, re-check suppression, send through the transport, record outcomes.

Claiming and recording are two short transactions so a slow provider never holds a database lock. On
PostgreSQL rows are claimed with ``FOR UPDATE SKIP LOCKED`` so several dispatchers never claim the same row;
on SQLite there is a single writer and the ``sending`` status plus a lease does the same job.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import random
from collections.abc import Mapping, Set
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Integer, String, any_, bindparam, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, sessionmaker

from crm import models as m
from crm.db import batched, unit_of_work
from crm.extensions import DeferredRenderer
from crm.mailing.subscriptions import withdrawn_among
from crm.mailing.suppression import forms_by_key
from crm.mailing.transports.base import OutgoingEmail, SendOutcome, SendResult, Transport
from crm.settings import Settings

log = logging.getLogger("crm.mail.dispatch")

LEASE = dt.timedelta(minutes=10)
SETTLE_AFTER = dt.timedelta(minutes=15)  # an ambiguous send with no provider event by then is retried
DUE_STATUSES = (m.OutboxStatus.QUEUED, m.OutboxStatus.RETRY)


@dataclasses.dataclass(slots=True)
class DispatchStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    suppressed: int = 0
    ambiguous: int = 0
    halted: bool = False

    def add(self, other: DispatchStats) -> None:
        for field in dataclasses.fields(self):
            if field.name == "halted":
                self.halted = self.halted or other.halted
            else:
                setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


def backoff(attempts: int, now: dt.datetime, base_seconds: float = 30.0, cap_seconds: float = 3600.0) -> dt.datetime:
    """Exponential backoff with full jitter: 30 s, 60 s, 120 s ... capped at an hour."""
    delay = min(cap_seconds, base_seconds * (2 ** max(0, attempts - 1)))
    return now + dt.timedelta(seconds=random.uniform(delay / 2, delay))


def _claim(session: Session, now: dt.datetime, batch_size: int) -> list[m.OutboxMessage]:
    """Claim up to ``batch_size`` due rows in ONE statement: UPDATE … WHERE id IN (SELECT … [FOR UPDATE SKIP
    LOCKED] LIMIT n) RETURNING the rows, so the cost does not grow with a list of ids."""
    due = (
        select(m.OutboxMessage.id)
        .where(m.OutboxMessage.status.in_(DUE_STATUSES), m.OutboxMessage.next_attempt_at <= now)
        .order_by(m.OutboxMessage.next_attempt_at, m.OutboxMessage.id)
        .limit(batch_size)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    stmt = (
        update(m.OutboxMessage)
        .where(m.OutboxMessage.id.in_(due.scalar_subquery()))
        .values(status=m.OutboxStatus.SENDING, lease_until=now + LEASE, attempts=m.OutboxMessage.attempts + 1)
        .returning(m.OutboxMessage)
    )
    rows = list(session.scalars(stmt, execution_options={"synchronize_session": False}))
    rows.sort(key=lambda r: r.id)
    return rows


def _ids_match(session: Session, column: Any, values: list[Any], element_type: Any) -> Any:
    """``column IN values``; on PostgreSQL ``column = ANY(:array)`` (one parameter instead of thousands)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=postgresql.ARRAY(element_type)))
    return column.in_(values)


def settle(session: Session, now: dt.datetime) -> tuple[int, int]:
    """Expired leases become ``ambiguous`` (the send may have happened); ambiguous rows that no provider event
    settled within ``SETTLE_AFTER`` go back to ``retry``. Returns (newly ambiguous, returned to retry)."""
    expired = session.execute(
        update(m.OutboxMessage)
        .where(m.OutboxMessage.status == m.OutboxStatus.SENDING, m.OutboxMessage.lease_until < now)
        .values(
            status=m.OutboxStatus.AMBIGUOUS,
            next_attempt_at=now + SETTLE_AFTER,
            lease_until=None,
            last_error="the sender stopped before recording the outcome; waiting for a provider event",
        )
    ).rowcount
    unsettled = session.execute(
        update(m.OutboxMessage)
        .where(m.OutboxMessage.status == m.OutboxStatus.AMBIGUOUS, m.OutboxMessage.next_attempt_at <= now)
        .values(status=m.OutboxStatus.RETRY, next_attempt_at=now)
    ).rowcount
    return expired or 0, unsettled or 0


def _suppressed(session: Session, addresses: set[str]) -> dict[str, str]:
    """Address -> suppression reason, for addresses on the (active) suppression list."""
    if not addresses:
        return {}
    keys = forms_by_key(addresses)  # plain and erased (hashed) forms
    rows = session.execute(
        select(m.Suppression.address, m.Suppression.reason).where(
            _ids_match(session, m.Suppression.address, sorted(keys), String()),
            m.Suppression.lifted_at.is_(None),
        )
    ).all()
    return {keys[address]: reason for address, reason in rows}


def _consent(session: Session, subscription_ids: set[int]) -> dict[int, tuple[str, list[str]]]:
    """Subscription id -> (status, mailings), re-read at claim time."""
    if not subscription_ids:
        return {}
    rows = session.execute(
        select(m.Subscription.id, m.Subscription.status, m.Subscription.mailings).where(
            _ids_match(session, m.Subscription.id, sorted(subscription_ids), Integer())
        )
    ).all()
    return {r.id: (str(r.status), list(r.mailings or [])) for r in rows}


def _withdrawals(session: Session, rows: list[m.OutboxMessage]) -> set[tuple[str, str]]:
    """(address, mailing) pairs whose recipient stopped that mailing, for bulk rows of a mailing not sent under a
    subscription (event emails go to invited contacts): an event email's one-click link records the withdrawal
    in the consent log (``subscriptions.withdrawn_among``), so an email queued before the click stays back."""
    by_mailing: dict[str, set[str]] = {}
    for r in rows:
        if r.bulk and r.mailing and r.subscription_id is None:
            by_mailing.setdefault(r.mailing, set()).add(r.recipient)
    return {
        (address, mailing)
        for mailing, addresses in by_mailing.items()
        for address in withdrawn_among(session, addresses, mailing)
    }


def blocked_reason(
    row: m.OutboxMessage,
    suppressions: dict[str, str],
    consent: dict[int, tuple[str, list[str]]],
    withdrawals: Set[tuple[str, str]] = frozenset(),
) -> str:
    """Why this message must not go out now ("" = it may)."""
    reason = suppressions.get(row.recipient)
    if reason is not None and (row.bulk or reason != "unsubscribed"):
        return f"address is on the suppression list ({reason})"
    if row.mailing and (row.recipient.strip().lower(), row.mailing) in withdrawals:
        return f"the recipient withdrew from {row.mailing}"
    if row.subscription_id is not None and (row.bulk or row.mailing):
        status, mailings = consent.get(row.subscription_id, ("missing", []))
        if status != m.SubscriptionStatus.ACTIVE.value:
            return f"subscription is {status}"
        if row.mailing and row.mailing not in mailings:
            return f"subscriber no longer receives {row.mailing}"
    return ""


# Rendering at dispatch time: rows of some kinds store ``template`` + ``context`` and no bodies (a digest run
# would otherwise write ~800 MB of bodies for 100k subscribers). Their renderers come from the manifest
# (``Extensions.deferred_renderers``: kind -> renderer), because the domains that own them sit above mailing.


def render_deferred(
    session: Session,
    rows: list[m.OutboxMessage],
    settings: Settings,
    now: dt.datetime,
    renderers: Mapping[str, DeferredRenderer],
) -> dict[int, object]:
    """Bodies for claimed rows stored without them, rendered by their kind's renderer (one call per kind).

    A row without bodies whose kind has no renderer here gets an error text, so it is marked failed with a reason
    instead of going out empty.
    """
    out: dict[int, object] = {}
    by_kind: dict[str, list[m.OutboxMessage]] = {}
    for r in rows:
        if r.text_body is None and r.html_body is None:
            if r.kind in renderers:
                by_kind.setdefault(r.kind, []).append(r)
            else:
                out[r.id] = f"no renderer for {r.kind!r} emails stored without bodies"
    for kind, group in by_kind.items():
        out.update(renderers[kind](session, group, settings, now))
    return out


@dataclasses.dataclass(slots=True)
class _Batch:
    stats: DispatchStats
    to_send: list[OutgoingEmail]
    attempts: dict[int, int]
    now: dt.datetime


def _send(transport: Transport, emails: list[OutgoingEmail]) -> list[SendResult]:
    try:
        return transport.send_many(emails)
    except Exception as exc:
        log.exception("transport %s raised", transport.name)
        return [SendResult(SendOutcome.AMBIGUOUS, error=f"transport raised: {exc!r}")] * len(emails)


def _prepare(
    factory: sessionmaker[Session],
    transport: Transport,
    settings: Settings,
    now: dt.datetime | None,
    renderers: Mapping[str, DeferredRenderer],
) -> _Batch:
    """Claim a batch, re-check consent and suppression, render deferred bodies: what to send (one transaction)."""
    now = now or dt.datetime.now(dt.UTC)
    stats = DispatchStats()
    claim_size = max(settings.outbox_batch_size, int(getattr(transport, "preferred_claim", 0) or 0))
    unrenderable: list[dict[str, object]] = []
    with unit_of_work(factory) as session:
        settle(session, now)
        rows = _claim(session, now, claim_size)
        stats.claimed = len(rows)
        suppressions = _suppressed(session, {r.recipient for r in rows})
        consent = _consent(session, {r.subscription_id for r in rows if r.subscription_id is not None})
        to_send: list[OutgoingEmail] = []
        suppressed: list[dict[str, object]] = []
        copies: list[dict[str, object]] = []  # what each row rendered here is handed to the transport as
        withdrawals = _withdrawals(session, rows)
        blocked = {r.id: blocked_reason(r, suppressions, consent, withdrawals) for r in rows}
        deferred = render_deferred(session, [r for r in rows if not blocked[r.id]], settings, now, renderers)
        for r in rows:
            why = blocked[r.id]
            if why:
                suppressed.append({"b_id": r.id, "b_error": why})
                continue
            subject, text, html, headers = r.subject, r.text_body or "", r.html_body or "", dict(r.headers or {})
            if r.id in deferred:
                outcome = deferred[r.id]
                if isinstance(outcome, str):
                    unrenderable.append({"b_id": r.id, "b_error": outcome})
                    continue
                rendered, extra_headers = outcome
                subject, text, html = rendered.subject, rendered.text, rendered.html
                headers.update(extra_headers)
                copies.append(
                    {"b_id": r.id, "b_subject": subject[:400], "b_copy": m.pack_sent(subject, text, html, headers)}
                )
            to_send.append(
                OutgoingEmail(
                    outbox_id=r.id,
                    kind=r.kind,
                    to=r.recipient,
                    to_name=r.recipient_name,
                    subject=subject,
                    text=text,
                    html=html,
                    headers=headers,
                    attachments=list(r.attachments or []),
                    bulk=r.bulk,
                )
            )
        if copies:
            _keep_copies(session, copies)
        if unrenderable:
            _mark(session, m.OutboxStatus.FAILED, unrenderable)
            stats.failed += len(unrenderable)
        if suppressed:
            _mark(session, m.OutboxStatus.SUPPRESSED, suppressed)
            stats.suppressed = len(suppressed)
        attempts = {r.id: r.attempts for r in rows}
    return _Batch(stats, to_send, attempts, now)


def _mark(session: Session, status: m.OutboxStatus, rows: list[dict[str, object]]) -> None:
    """Give each claimed row (``b_id``) ``status`` and its reason (``b_error``) in one executemany; the lease ends."""
    table = m.OutboxMessage.__table__
    session.connection().execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(status=status, last_error=bindparam("b_error"), lease_until=None),
        rows,
    )


def _keep_copies(session: Session, rows: list[dict[str, object]]) -> None:
    """Store, before the send, the subject and the compressed copy (``m.pack_sent``) of each row rendered at
    dispatch, in one executemany: the outbox then shows every email as the transport received it."""
    table = m.OutboxMessage.__table__
    session.connection().execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(subject=bindparam("b_subject"), sent_copy=bindparam("b_copy")),
        rows,
    )


def _release(factory: sessionmaker[Session], batch: _Batch) -> None:
    """Give back a claimed batch that was never sent (the tick halted): due again, the attempt not counted."""
    ids = [e.outbox_id for e in batch.to_send]
    with unit_of_work(factory) as session:
        for chunk in batched(ids, 5000):
            session.execute(
                update(m.OutboxMessage)
                .where(_ids_match(session, m.OutboxMessage.id, chunk, Integer()))
                .values(status=m.OutboxStatus.RETRY, lease_until=None, attempts=m.OutboxMessage.attempts - 1),
                execution_options={"synchronize_session": False},
            )


def _record(factory: sessionmaker[Session], batch: _Batch, results: list[SendResult], settings: Settings) -> None:
    """Write a sent batch's outcomes grouped by identical values: a batch of 1,000 accepted together is one UPDATE,
    so the statement count stays O(requests), not O(messages)."""
    emails, attempts, now, stats = batch.to_send, batch.attempts, batch.now, batch.stats
    groups: dict[tuple[Any, ...], list[int]] = {}
    states: dict[tuple[int, int], tuple[m.OutboxStatus, dt.datetime, dt.datetime | None]] = {}
    for email, result in zip(emails, results, strict=True):
        # One outcome (and one jittered retry time) per provider answer: a request's messages share it.
        state_key = (id(result), attempts[email.outbox_id])
        if state_key not in states:
            states[state_key] = _outcome_state(result, attempts[email.outbox_id], settings, now)
        status, next_at, sent_at = states[state_key]
        counter = {"sent": "sent", "retry": "retried", "failed": "failed", "ambiguous": "ambiguous"}[status.value]
        setattr(stats, counter, getattr(stats, counter) + 1)
        if result.outcome == SendOutcome.HALT:
            stats.halted = True
        key = (status, next_at, sent_at, result.error[:4000], result.provider_message_id[:200])
        groups.setdefault(key, []).append(email.outbox_id)
    if stats.halted:
        log.critical("mail provider refused our credentials: sending stopped for this tick")
    with unit_of_work(factory) as session:
        for (status, next_at, sent_at, error, provider), ids in groups.items():
            for chunk in batched(ids, 5000):
                session.execute(
                    update(m.OutboxMessage)
                    .where(_ids_match(session, m.OutboxMessage.id, chunk, Integer()))
                    .values(
                        status=status,
                        next_attempt_at=next_at,
                        sent_at=sent_at,
                        last_error=error,
                        provider_message_id=provider,
                        lease_until=None,
                    ),
                    execution_options={"synchronize_session": False},
                )


def _outcome_state(
    result: SendResult, attempts: int, settings: Settings, now: dt.datetime
) -> tuple[m.OutboxStatus, dt.datetime, dt.datetime | None]:
    if result.outcome == SendOutcome.SENT:
        return m.OutboxStatus.SENT, now, now
    if result.outcome == SendOutcome.FAILED:
        return m.OutboxStatus.FAILED, now, None
    if result.outcome == SendOutcome.AMBIGUOUS:
        return m.OutboxStatus.AMBIGUOUS, now + dt.timedelta(minutes=15), None
    # RETRY and HALT both leave the message to be tried again later.
    if attempts >= settings.outbox_max_attempts:
        return m.OutboxStatus.FAILED, now, None
    next_at = backoff(attempts, now)
    if result.retry_at and result.retry_at > next_at:
        next_at = result.retry_at
    return m.OutboxStatus.RETRY, next_at, None


def drain(
    factory: sessionmaker[Session],
    transport: Transport,
    settings: Settings,
    now: dt.datetime | None = None,
    *,
    renderers: Mapping[str, DeferredRenderer],
) -> DispatchStats:
    """Dispatch batches until nothing is due (or the provider refuses us).

    Pipelined: while one batch is with the provider, the next is claimed and prepared, so database work and
    provider latency overlap. A batch prepared after the provider refused our credentials is released unsent.
    """
    total = DispatchStats()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-send") as sender:
        batch = _prepare(factory, transport, settings, now, renderers)
        while True:
            if batch.stats.claimed == 0:
                total.add(batch.stats)
                return total
            future = sender.submit(_send, transport, batch.to_send) if batch.to_send else None
            upcoming = _prepare(factory, transport, settings, now, renderers)
            if future is not None:
                _record(factory, batch, future.result(), settings)
            total.add(batch.stats)
            if batch.stats.halted:
                if upcoming.to_send:
                    _release(factory, upcoming)
                total.claimed += upcoming.stats.claimed - len(upcoming.to_send)
                total.suppressed += upcoming.stats.suppressed
                total.failed += upcoming.stats.failed
                return total
            batch = upcoming
