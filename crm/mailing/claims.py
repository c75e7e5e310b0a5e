"""Claiming outbox rows and handing them to the provider: the two steps whose marks (``CLAIMED``, ``HANDED``, the
lease) tell ``crm.mailing.settlement`` what a crashed dispatcher left (docs/mailing.md). A claim takes due rows in
ONE statement; the hand-off, committed just before a batch's first request, marks it handed and stores what was
rendered at dispatch; a batch never sent is released."""

from __future__ import annotations

import collections
import datetime as dt
import logging
from operator import itemgetter
from typing import Any

import msgspec
from sqlalchemy import Integer, Row, String, Text, any_, bindparam, cast, func, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, sessionmaker

from crm import models as m
from crm.db import array_text, batched, retrying, unit_of_work
from crm.mailing.recording import Batch
from crm.mailing.settlement import CLAIMED, HANDED, LEASE
from crm.models.outbox import DUE_ORDER_WHERE

log = logging.getLogger("crm.mail.dispatch")
_ENCODE = msgspec.json.Encoder().encode
DUE_STATUSES = (m.OutboxStatus.QUEUED, m.OutboxStatus.RETRY)
_OUTBOX = m.OutboxMessage.__table__
_DUE = text(DUE_ORDER_WHERE)  # status in DUE_STATUSES, worded as ix_outbox_due_order's predicate
# What the dispatcher and the deferred renderers read of a claimed row (light Core rows, not ORM objects). The
# JSON columns come back as text on both databases, decoded with msgspec by ``json_value`` and ``row_context`` (most
# rows' headers and attachments are ``{}`` and ``[]``, not decoded at all): neither SQLAlchemy's per-row
# ``json.loads`` nor psycopg's, which decoded three ``jsonb`` values a row with ``json.loads`` (~4 us a digest).
JSON_COLUMNS = ("headers", "attachments", "context")
CLAIM_COLUMNS = tuple(
    cast(_OUTBOX.c[name], Text).label(name) if name in JSON_COLUMNS else _OUTBOX.c[name]
    for name in (
        "id",
        "kind",
        "bulk",
        "recipient",
        "recipient_name",
        "subject",
        "text_body",
        "html_body",
        "headers",
        "attachments",
        "template",
        "context",
        "attempts",
        "subscription_id",
        "contact_id",
        "mailing",
    )
)


# A claimed row as the dispatcher and the renderers read it: a named tuple. An attribute of SQLAlchemy's ``Row``
# costs ~0.5 us (a name look-up through its result metadata) and a claimed row's columns are read ~35 times between
# the claim and the hand-off (consent, rendering, the email): ~15 us a digest; a named tuple's ~0.05 us.
ClaimedRow = collections.namedtuple("ClaimedRow", [c.key for c in CLAIM_COLUMNS])  # type: ignore[misc]


def light(rows: list[Row[Any]]) -> list[ClaimedRow]:
    """Claimed rows as ``ClaimedRow`` tuples (the same values, the same names), read cheaply from then on."""
    return [ClaimedRow(*r) for r in rows]


def due_rows(now: dt.datetime, batch_size: int, *, locking: bool) -> Any:
    """The ids a claim takes, oldest due first, read through ``ix_outbox_due_order`` in its order (so a claim reads
    its ``batch_size`` rows, not the whole backlog); ``locking``: ``FOR UPDATE SKIP LOCKED`` (PostgreSQL)."""
    due = (
        select(_OUTBOX.c.id)
        # The partial index's own predicate, as literal SQL: SQLite uses a partial index only when the query
        # repeats its condition, which a bound ``IN (?, ?)`` does not (and PostgreSQL's generic plans likewise).
        .where(_DUE, _OUTBOX.c.next_attempt_at <= now)
        .order_by(_OUTBOX.c.next_attempt_at, _OUTBOX.c.id)
        .limit(batch_size)
    )
    return due.with_for_update(skip_locked=True) if locking else due


# The claim's plan on PostgreSQL, fixed for its transaction: read ``ix_outbox_due_order`` in order and stop after the
# claim's rows. A digest run queues its rows after the table's statistics were taken (or with none, after a
# TRUNCATE), so the planner estimated ~1,000 due rows and chose a bitmap scan of the same index plus a sort of every
# due row: 1.07 s a claim at 600,000 queued, and the dispatchers of a 1,000,000-digest run fell behind. With sorts
# and bitmap scans priced out, the only plan left is the ordered read (tests/mailing/test_claim_plan.py).
ORDERED_READ = "SELECT set_config('enable_sort', 'off', true), set_config('enable_bitmapscan', 'off', true)"


def ordered_read(session: Session) -> None:
    """Price sorts and bitmap scans out of the planner's choices for the rest of this transaction (PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(ORDERED_READ))


def claim(session: Session, now: dt.datetime, batch_size: int, *, handed: bool = False) -> list[Row[Any]]:
    """Claim up to ``batch_size`` due rows in ONE statement: UPDATE … WHERE id IN (SELECT … [FOR UPDATE SKIP
    LOCKED] LIMIT n) RETURNING the columns the send needs, so the cost does not grow with a list of ids and no ORM
    object is built per row. The rows are marked ``CLAIMED`` until ``hand_off`` (``handed=True``: tests of what a
    crash leaves). PostgreSQL: one statement more first, ``ordered_read``."""
    ordered_read(session)
    due = due_rows(now, batch_size, locking=session.get_bind().dialect.name == "postgresql")
    stmt = (
        update(_OUTBOX)
        .where(_OUTBOX.c.id.in_(due.scalar_subquery()))
        .values(
            status=m.OutboxStatus.SENDING,
            lease_until=now + LEASE,
            attempts=_OUTBOX.c.attempts + 1,
            last_error=HANDED if handed else CLAIMED,
        )
        .returning(*CLAIM_COLUMNS)
    )
    rows = list(session.execute(stmt).all())
    rows.sort(key=itemgetter(0))  # the id, by position: a Row attribute costs ~0.5 us
    return rows


def ids_match(session: Session, column: Any, values: list[Any], element_type: Any) -> Any:
    """``column IN values`` with ONE parameter instead of thousands (a claim holds 4,000 rows, and SQLAlchemy
    processes an expanding IN value by value): ``column = ANY(:array)`` on PostgreSQL, ``column IN (SELECT value
    FROM json_each(:json))`` on SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        # The array as ONE text parameter, cast by the server: psycopg adapts a list element by element in Python
        # (2,000 address forms a claim in ``dispatch._suppressed``).
        listed = array_text(values)
        return column == any_(cast(bindparam(None, listed, type_=Text()), postgresql.ARRAY(element_type)))
    listed = func.json_each(bindparam(None, _ENCODE(values).decode(), type_=String())).table_valued("value")
    return column.in_(select(listed.c.value))


def release(factory: sessionmaker[Session], batch: Batch) -> None:
    """Give back a claimed batch that was never sent (the tick halted): due again, the attempt not counted."""
    ids = [e.outbox_id for e in batch.to_send]
    with unit_of_work(factory) as session:
        for chunk in batched(ids, 5000):
            session.execute(
                update(_OUTBOX)
                .where(ids_match(session, _OUTBOX.c.id, chunk, Integer()), _OUTBOX.c.status == m.OutboxStatus.SENDING)
                .values(
                    status=m.OutboxStatus.RETRY,
                    lease_until=None,
                    attempts=_OUTBOX.c.attempts - 1,
                    last_error="not sent: the provider refused our credentials; due again",
                )
            )


# The hand-off on PostgreSQL: ONE statement for the batch, which also stores the copies rendered at dispatch. Our
# rows are the ones still marked with this claim (``CLAIMED`` and the claim's lease: a row taken back and claimed again
# has another lease), found by primary key only. No condition on ``status``: a status index's "sending" range holds an
# entry for every row version ever claimed until VACUUM, and the planner chose a bitmap scan of it for ``status =
# 'sending' AND id = ANY(…)``, each hand-off costing more than the last (20% of the server's time in a run of
# 1,000,000 digests, docs/scale.md).
# The copies go as ONE binary bytea, every copy end to end, each row cutting its own out by its start and size: a
# ``bytea[]`` of 1,000 copies was adapted by psycopg element by element in Python, text-escaped, and parsed back by
# the server (~11 us of the dispatcher's CPU and ~9 us of the server's a digest; 1 and 1 this way). The subjects go as
# the array's text form, quoted in one join (``crm.db.array_text``) instead of psycopg's per-element adaptation.
_HAND_OFF_PG = (
    f"UPDATE {_OUTBOX.name} AS o SET last_error = %s, lease_until = %s, "
    "subject = COALESCE(u.subject, o.subject), sent_copy = COALESCE(substring(%b FROM u.start FOR u.size), o.sent_copy) "
    "FROM unnest(CAST(%s AS BIGINT[]), CAST(%s AS VARCHAR[]), CAST(%s AS INT[]), CAST(%s AS INT[])) "
    "AS u(id, subject, start, size) "
    "WHERE o.id = u.id AND o.last_error = %s AND o.lease_until = %s "
    "RETURNING o.id"
)


def _copies_param(ids: list[int], copies: list[tuple[str, bytes, int]]) -> tuple[bytes, list[str | None], str, str]:
    """The hand-off's copy parameters for ``ids`` in order: every copy end to end, each row's subject (None: no copy),
    and the 1-based start and the size of each row's copy in the first (NULL: no copy), as array texts."""
    by_id = {i: (subject, copy) for subject, copy, i in copies}
    blobs: list[bytes] = []
    subjects: list[str | None] = []
    starts: list[str] = []
    sizes: list[str] = []
    start = 1
    for i in ids:
        found = by_id.get(i)
        if found is None:
            subjects.append(None)
            starts.append("NULL")
            sizes.append("NULL")
            continue
        subject, copy = found
        blobs.append(copy)
        subjects.append(subject)
        starts.append(str(start))
        sizes.append(str(len(copy)))
        start += len(copy)
    return b"".join(blobs), subjects, "{" + ",".join(starts) + "}", "{" + ",".join(sizes) + "}"


def hand_off(factory: sessionmaker[Session], batch: Batch, now: dt.datetime | None) -> None:
    """Mark a claimed batch as handed to the provider (committed before its first request), with a fresh lease, and
    store the subject and compressed copy (``m.pack_sent``) of each row rendered at dispatch, so the outbox shows
    every email as the transport received it. A row whose lease ran out while it waited, and that another
    dispatcher took back, is neither sent nor overwritten."""
    ids = [e.outbox_id for e in batch.to_send]
    lease = (now or dt.datetime.now(dt.UTC)) + LEASE

    def write(session: Session) -> set[int]:
        conn = session.connection()
        if conn.dialect.name == "postgresql":
            blob, subjects, starts, sizes = _copies_param(ids, batch.copies)
            params = (HANDED, lease, blob, array_text(ids), array_text(subjects), starts, sizes)
            params += (CLAIMED, batch.lease)
            return {row[0] for row in conn.exec_driver_sql(_HAND_OFF_PG, params)}
        handed: set[int] = set()
        for chunk in batched(ids, 5000):
            handed.update(
                session.scalars(
                    update(_OUTBOX)
                    .where(
                        ids_match(session, _OUTBOX.c.id, chunk, Integer()),
                        _OUTBOX.c.last_error == CLAIMED,
                        _OUTBOX.c.lease_until == batch.lease,
                    )
                    .values(last_error=HANDED, lease_until=lease)
                    .returning(_OUTBOX.c.id)
                )
            )
        kept = [copy for copy in batch.copies if copy[2] in handed]
        if kept:  # plain tuples through the driver: thousands of rows a claim
            conn.exec_driver_sql(f"UPDATE {_OUTBOX.name} SET subject = ?, sent_copy = ? WHERE id = ?", kept)
        return handed

    # A settler taking back this batch's expired claims may lock the rows in another order: the victim runs again
    # (then finds them taken back, and sends none of them).
    handed = retrying(factory, write)
    batch.copies = []
    if len(handed) != len(ids):
        lost = sorted(set(ids) - handed)
        log.warning(
            "%d claimed outbox rows were taken back before they were sent; not sending them: %s", len(lost), lost[:50]
        )
        batch.to_send = [e for e in batch.to_send if e.outbox_id in handed]
