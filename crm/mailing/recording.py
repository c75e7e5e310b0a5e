"""Recording what the transport reports, as it reports it (issue 15.3).

The transport calls ``Recorder`` (its ``report`` callback) with each group of outcomes as soon as they are final,
from its sending threads; each call is written at once in its own short transaction with ONE executemany UPDATE,
whatever the outcomes, so a ``kill -9`` leaves unknown only the requests in flight and the statement count stays
O(requests). What a transport did not report by the time ``send_many`` returned is written then.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import logging
import random
import threading
from typing import Any

import msgspec
from sqlalchemy.orm import Session, sessionmaker

from crm import models as m
from crm.db import array_text, retrying
from crm.mailing.settlement import SETTLE_AFTER
from crm.mailing.transports.base import OutgoingEmail, SendOutcome, SendResult, Transport
from crm.settings import Settings

log = logging.getLogger("crm.mail.dispatch")
_OUTBOX = m.OutboxMessage.__table__
_ENCODE = msgspec.json.Encoder().encode


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


@dataclasses.dataclass(slots=True)
class Batch:
    stats: DispatchStats
    to_send: list[OutgoingEmail]
    attempts: dict[int, int]
    now: dt.datetime
    lease: dt.datetime  # the lease_until written by the claim (the hand-off checks nobody else took the rows)
    # (subject, compressed copy, outbox id) of each row rendered at dispatch: written by the hand-off
    copies: list[tuple[str, bytes, int]] = dataclasses.field(default_factory=list)


# One statement per report whatever the outcomes, through the driver: a parameter row per distinct outcome (the
# messages of one provider request share theirs: status, times, error, provider id), naming its rows by a list of
# ids, so a request of 1,000 is one row to bind, not 1,000 rows of five values each with SQLAlchemy's datetime
# processing. Only a row still waiting for this outcome is written: one a provider event already settled (``sent``)
# is left as the webhook wrote it; one whose lease ran out meanwhile (``ambiguous``) takes the answer that settles it.
_RECORD_SET = (
    "UPDATE {table} SET status = {p}, next_attempt_at = {p}, sent_at = {p}, last_error = {p}, "
    "provider_message_id = {p}, lease_until = NULL WHERE {ids} AND status IN ('{sending}', '{ambiguous}')"
)
_RECORD_SQL = {
    dialect: _RECORD_SET.format(
        table=_OUTBOX.name,
        p=p,
        ids=ids,
        sending=m.OutboxStatus.SENDING.value,
        ambiguous=m.OutboxStatus.AMBIGUOUS.value,
    )
    for dialect, p, ids in (
        ("postgresql", "%s", "id = ANY(CAST(%s AS BIGINT[]))"),
        ("sqlite", "?", "id IN (SELECT value FROM json_each(?))"),
    )
}


def driver_datetime(dialect: str, value: dt.datetime | None) -> Any:
    """An aware UTC datetime as the driver takes it for a ``UTCDateTime`` column, formatted once per value rather
    than per row: the aware value for psycopg, SQLite's naive UTC text (what SQLAlchemy's DATETIME stores)."""
    if value is None or dialect == "postgresql":
        return value
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


_COUNTERS = {"sent": "sent", "retry": "retried", "failed": "failed", "ambiguous": "ambiguous"}


class Recorder:
    """The ``report`` callback: writes each group of outcomes the moment the transport reports it, in its own short
    transaction (a session from the factory, on the reporting thread), serialised by a lock, and counts them.

    A write that fails is logged and left for ``finish``, which writes whatever was not recorded when
    ``send_many`` returned (transports that report nothing, or report late) and raises if it cannot."""

    def __init__(self, factory: sessionmaker[Session], batch: Batch, settings: Settings) -> None:
        self._factory = factory
        self._batch = batch
        self._settings = settings
        self._lock = threading.Lock()
        self.recorded: set[int] = set()

    def __call__(self, outcomes: list[tuple[OutgoingEmail, SendResult]]) -> None:
        try:
            self.record(outcomes)
        except Exception:
            ids = [e.outbox_id for e, _ in outcomes]
            log.exception(
                "could not record %d outcomes now (outbox %s..%s); retried when the batch ends",
                len(ids),
                min(ids),
                max(ids),
            )

    def record(self, outcomes: list[tuple[OutgoingEmail, SendResult]]) -> None:
        batch = self._batch
        with self._lock:
            # Outcome -> its rows' ids: one parameter row each (a provider request's messages share one).
            groups: dict[tuple[str, dt.datetime, dt.datetime | None, str, str], list[int]] = {}
            counts: dict[str, int] = {}
            halted = False
            states: dict[tuple[int, int], tuple[m.OutboxStatus, dt.datetime, dt.datetime | None]] = {}
            seen: set[int] = set()
            for email, result in outcomes:
                outbox_id = email.outbox_id
                if outbox_id in self.recorded or outbox_id in seen:
                    continue
                seen.add(outbox_id)
                attempts = batch.attempts[outbox_id]
                # One outcome (and one jittered retry time) per provider answer: a request's messages share it.
                key = (id(result), attempts)
                state = states.get(key)
                if state is None:
                    state = states[key] = outcome_state(result, attempts, self._settings, batch.now)
                status, next_at, sent_at = state
                counts[_COUNTERS[status.value]] = counts.get(_COUNTERS[status.value], 0) + 1
                halted = halted or result.outcome == SendOutcome.HALT
                group = (status.value, next_at, sent_at, result.error[:4000], result.provider_message_id[:200])
                ids = groups.get(group)
                if ids is None:
                    ids = groups[group] = []
                ids.append(outbox_id)
            if not groups:
                return

            def write(session: Session) -> None:
                conn = session.connection()
                dialect = conn.dialect.name
                rows = [
                    (
                        status_value,
                        driver_datetime(dialect, next_at),
                        driver_datetime(dialect, sent_at),
                        error,
                        provider,
                        array_text(tuple(ids)) if dialect == "postgresql" else _ENCODE(ids).decode(),
                    )
                    for (status_value, next_at, sent_at, error, provider), ids in groups.items()
                ]
                conn.exec_driver_sql(_RECORD_SQL[dialect], rows)

            # The rows of several outcomes, by id list each: a settler locking some of them in another order makes
            # a deadlock, and the victim runs again.
            retrying(self._factory, write)
            self.recorded.update(seen)
            for counter, n in counts.items():
                setattr(batch.stats, counter, getattr(batch.stats, counter) + n)
            if halted and not batch.stats.halted:
                batch.stats.halted = True
                log.critical("mail provider refused our credentials: sending stopped for this tick")

    def finish(self, results: list[SendResult]) -> None:
        emails = self._batch.to_send
        pending = [(e, r) for e, r in zip(emails, results, strict=True) if e.outbox_id not in self.recorded]
        if pending:
            self.record(pending)


def reports(transport: Transport) -> bool:
    """Whether ``send_many`` takes ``report`` (transports written before the contract, and test doubles, may not)."""
    try:
        parameters = inspect.signature(transport.send_many).parameters
    except (TypeError, ValueError):
        return False
    return "report" in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def send(transport: Transport, emails: list[OutgoingEmail], recorder: Recorder) -> list[SendResult]:
    try:
        if reports(transport):
            return transport.send_many(emails, report=recorder)
        return transport.send_many(emails)
    except Exception as exc:
        log.exception("transport %s raised", transport.name)
        return [SendResult(SendOutcome.AMBIGUOUS, error=f"transport raised: {exc!r}")] * len(emails)


def outcome_state(
    result: SendResult, attempts: int, settings: Settings, now: dt.datetime
) -> tuple[m.OutboxStatus, dt.datetime, dt.datetime | None]:
    if result.outcome == SendOutcome.SENT:
        return m.OutboxStatus.SENT, now, now
    if result.outcome == SendOutcome.FAILED:
        return m.OutboxStatus.FAILED, now, None
    if result.outcome == SendOutcome.AMBIGUOUS:
        return m.OutboxStatus.AMBIGUOUS, now + SETTLE_AFTER, None
    # RETRY and HALT both leave the message to be tried again later.
    if attempts >= settings.outbox_max_attempts:
        return m.OutboxStatus.FAILED, now, None
    next_at = backoff(attempts, now)
    if result.retry_at and result.retry_at > next_at:
        next_at = result.retry_at
    return m.OutboxStatus.RETRY, next_at, None
