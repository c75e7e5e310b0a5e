"""Pruning mail detail after a retention period (``CRM_MAIL_DETAIL_DAYS``), keeping each email's summary.

Two tables grow with every digest run (docs/scale.md): ``outbox_messages`` (bodies, the stored copy, headers) and
the digest delivery ledger ``digest_deliveries`` (one row per item sent to a subscriber). After the period:

- **Outbox rows** in a final state (sent, which includes bounced deliveries, failed, suppressed) lose their
  detail: ``sent_copy``, ``text_body``, ``html_body``, ``context``, ``headers`` and ``attachments``. The row stays
  with its summary (recipient, kind, template, subject, status, dates, provider id, delivery status), so counts,
  reports and "we emailed you on …" still work, and its idempotency key stays, so a digest period run again can
  never queue a second digest for anyone (the outbox half of exactly-once).
- **Ledger rows** older than the period are deleted only when their item can never be offered again by the
  digest's own rules: the item is gone, or it closed before the cut-off (a funding call whose deadline passed, an
  event that started, an internship that closed, news published, all more than the period ago). A rolling call
  with no deadline keeps its rows, and so does any kind this module does not know. Rows of a period that could
  still run or resume (the latest due and the next period of each frequency, and any period with a run still
  marked running) are never touched, so a resumed run finds its highest subscription id unchanged.

Work goes in batches of ``BATCH_SIZE`` ids, one flat statement per batch in its own transaction (locks are held
for one batch only); what is left is found from the data itself, so a run killed half-way just starts again. Each
table is walked by primary key only up to its last row older than the period (found by binary search), and the
weekly job starts a few weeks before that (``LOOKBACK_DAYS``), so a run never scans the recent year.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, exists, func, not_, null, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from crm import models as m
from crm.db import unit_of_work
from crm.digests.periods import MONTHLY, WEEKLY, latest_due

BATCH_SIZE = 5000
# The weekly job walks the outbox from this many days before the cut-off: earlier rows were pruned by earlier runs
# (``crm mail prune`` walks from the start: the first time, or after the job has not run for weeks).
LOOKBACK_DAYS = 35
# Final states: nothing will send, retry or settle these rows any more (a bounce is a sent row's delivery status).
FINAL = (m.OutboxStatus.SENT, m.OutboxStatus.FAILED, m.OutboxStatus.SUPPRESSED)
# Ledger kinds whose closing rule this module knows (tests/mailing/test_prune.py checks every digest section's).
LEDGER_KINDS = ("call", "call_closing", "event", "internship", "news")


def pruned_note(days: int) -> str:
    """What the admin message page and the subject-access export say in place of a pruned email's text."""
    return f"The full text of this email is no longer kept (older than {days} days)."


def is_pruned(parts: m.EmailParts, context: Any, status: Any) -> bool:
    """A final-state row with no bodies, stored copy or context left: its detail was pruned."""
    return status in FINAL and parts.text is None and parts.html is None and context is None


@dataclasses.dataclass(slots=True)
class PruneStats:
    cutoff: dt.datetime
    dry_run: bool = False
    outbox_cleared: int = 0
    ledger_deleted: int = 0
    batches: int = 0

    def line(self) -> str:
        verb = ("would clear", "would delete") if self.dry_run else ("cleared", "deleted")
        return (
            f"mail detail before {self.cutoff:%Y-%m-%d %H:%M} UTC: {verb[0]} {self.outbox_cleared} outbox rows, "
            f"{verb[1]} {self.ledger_deleted} ledger rows"
        )


def cutoff_for(days: int, now: dt.datetime | None = None) -> dt.datetime:
    return (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=days)


def _outbox_candidates(cutoff: dt.datetime) -> list[Any]:
    o = m.OutboxMessage
    has_detail = or_(
        o.sent_copy.is_not(None), o.text_body.is_not(None), o.html_body.is_not(None), o.context.is_not(None)
    )
    return [o.created_at < cutoff, o.status.in_(FINAL), has_detail]


def open_periods(now: dt.datetime) -> list[str]:
    """Periods that could still run or resume: per frequency the latest due one and the next (a run sent early)."""
    keys = []
    for frequency in (WEEKLY, MONTHLY):
        due = latest_due(frequency, now)
        keys += [due.key, due.next().key]
    return keys


def _ledger_candidates(cutoff: dt.datetime, now: dt.datetime) -> list[Any]:
    d = m.DigestDelivery
    c, e, i, n = m.FundingCall, m.Event, m.Internship, m.Campaign
    # "Could still be offered": the item exists and has not closed before the cut-off.
    call_open = exists().where(c.id == d.item_id, or_(c.next_deadline_at.is_(None), c.next_deadline_at >= cutoff))
    event_open = exists().where(e.id == d.item_id, e.starts_at >= cutoff)
    internship_open = exists().where(i.id == d.item_id, i.closes_at >= cutoff)
    news_open = exists().where(n.id == d.item_id, or_(n.published_at.is_(None), n.published_at >= cutoff))
    closed = or_(
        and_(d.item_kind.in_(("call", "call_closing")), not_(call_open)),
        and_(d.item_kind == "event", not_(event_open)),
        and_(d.item_kind == "internship", not_(internship_open)),
        and_(d.item_kind == "news", not_(news_open)),
    )
    running = select(m.DigestRun.period).where(m.DigestRun.status == m.DigestRunStatus.RUNNING)
    return [d.sent_at < cutoff, closed, d.period.not_in(open_periods(now)), d.period.not_in(running)]


def count(session: Session, days: int, now: dt.datetime | None = None) -> PruneStats:
    """What a run would prune now (two COUNT statements; ``crm mail prune --dry-run``)."""
    now = now or dt.datetime.now(dt.UTC)
    stats = PruneStats(cutoff_for(days, now), dry_run=True)
    stats.outbox_cleared = session.scalar(select(func.count()).where(*_outbox_candidates(stats.cutoff))) or 0
    stats.ledger_deleted = session.scalar(select(func.count()).where(*_ledger_candidates(stats.cutoff, now))) or 0
    return stats


def last_id_before(session: Session, id_col: Any, time_col: Any, when: dt.datetime) -> int:
    """The highest id whose row is older than ``when``, by binary search over the primary key (ids grow with
    insertion time): ~log2(rows) point lookups instead of a scan, as neither table has an index on its time.
    A row out of order is only left for a later run: every batch still checks the time of each row."""
    lo, hi = session.execute(select(func.min(id_col), func.max(id_col))).one()
    best = 0
    while lo is not None and lo <= hi:
        mid = (lo + hi) // 2
        row = session.execute(select(id_col, time_col).where(id_col >= mid).order_by(id_col).limit(1)).first()
        if row is not None and row[1] < when:
            best, lo = row[0], row[0] + 1
        else:
            hi = mid - 1
    return best


def prune(
    factory: sessionmaker[Session],
    days: int,
    *,
    now: dt.datetime | None = None,
    lookback_days: int | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[PruneStats], None] | None = None,
) -> PruneStats:
    """Clear old outbox detail, then delete old closed-item ledger rows, one statement and one commit per batch.

    Outbox rows are walked from the first row older than ``days + lookback_days`` (None: from the start) up to the
    last older than ``days``: the weekly job looks back a few weeks, since earlier runs pruned what lies before."""
    now = now or dt.datetime.now(dt.UTC)
    stats = PruneStats(cutoff_for(days, now))
    o, d = m.OutboxMessage, m.DigestDelivery
    clear = {"sent_copy": None, "text_body": None, "html_body": None, "headers": {}, "attachments": []}
    clear["context"] = null()  # SQL NULL: None would store JSON null, which "IS NOT NULL" still matches
    with factory() as session:
        upper = last_id_before(session, o.id, o.created_at, stats.cutoff)
        since = cutoff_for(days + lookback_days, now) if lookback_days is not None else None
        after = last_id_before(session, o.id, o.created_at, since) if since else 0
        ledger_upper = last_id_before(session, d.id, d.sent_at, stats.cutoff)
    while after < upper:
        window = (o.id > after, o.id <= upper)
        ids = select(o.id).where(*window, *_outbox_candidates(stats.cutoff)).order_by(o.id).limit(batch_size)
        ids = ids.correlate(None)
        with unit_of_work(factory) as session:
            done = session.scalars(update(o).where(o.id.in_(ids)).values(**clear).returning(o.id)).all()
        stats.batches += 1
        stats.outbox_cleared += len(done)
        if progress:
            progress(stats)
        if len(done) < batch_size:
            break
        after = max(done)
    after = 0
    while after < ledger_upper:
        window = (d.id > after, d.id <= ledger_upper)
        ids = select(d.id).where(*window, *_ledger_candidates(stats.cutoff, now)).order_by(d.id).limit(batch_size)
        ids = ids.correlate(None)
        with unit_of_work(factory) as session:
            done = session.scalars(d.__table__.delete().where(d.id.in_(ids)).returning(d.id)).all()
        stats.batches += 1
        stats.ledger_deleted += len(done)
        if progress:
            progress(stats)
        if len(done) < batch_size:
            break
        after = max(done)
    return stats
