"""Pruning mail detail after a retention period (``CRM_MAIL_DETAIL_DAYS``), keeping each email's summary.

Two tables grow with every digest run (docs/scale.md): ``outbox_messages`` (bodies, the stored copy, headers) and
the digest delivery ledger ``digest_deliveries`` (one row per digest, with the items it carried). After the
period:

- **Outbox rows** in a final state (sent, which includes bounced deliveries, failed, suppressed) lose their
  detail: ``sent_copy``, ``text_body``, ``html_body``, ``context``, ``headers`` and ``attachments``. The row stays
  with its summary (recipient, kind, template, subject, status, dates, provider id, delivery status), so counts,
  reports and "we emailed you on …" still work, and its idempotency key stays, so a digest period run again can
  never queue a second digest for anyone (the outbox half of exactly-once).
- **Ledger items** older than the period are dropped only when their item can never be offered again by the
  digest's own rules: the item is gone, or it closed before the cut-off (a funding call whose deadline passed, an
  event that started, an internship that closed, news published, all more than the period ago). A rolling call
  with no deadline stays, and so does any kind this module does not know. A ledger row holds one digest's items
  (``crm.digests.ledger``): it loses its dropped items, and is deleted when none is left. Rows of a period that
  could still run or resume (the latest due and the next period of each frequency, and any period with a run still
  marked running) are never touched, so a resumed run finds its highest subscription id unchanged.

Work goes in batches of ``BATCH_SIZE`` ids, each in its own transaction (locks are held for one batch only): one
flat statement for the outbox; for the ledger a read of the batch's rows, one read per item kind of which of its
items are still open, then the deletes and rewrites. What is left is found from the data itself, so a run killed
half-way just starts again. Each table is walked by primary key only up to its last row older than the period (found by binary search), and the
weekly job starts a few weeks before that (``LOOKBACK_DAYS``), so a run never scans the recent year.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import bindparam, func, null, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from crm import models as m
from crm.db import unit_of_work
from crm.digests import ledger
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
    ledger_deleted: int = 0  # items dropped from the ledger (a row holds a digest's items)
    batches: int = 0

    def line(self) -> str:
        verb = ("would clear", "would drop") if self.dry_run else ("cleared", "dropped")
        return (
            f"mail detail before {self.cutoff:%Y-%m-%d %H:%M} UTC: {verb[0]} {self.outbox_cleared} outbox rows, "
            f"{verb[1]} {self.ledger_deleted} ledger items"
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
    """Ledger rows old enough to lose items: sent before the cut-off, of a period that can no longer run."""
    d = m.DigestDelivery
    running = select(m.DigestRun.period).where(m.DigestRun.status == m.DigestRunStatus.RUNNING)
    return [d.sent_at < cutoff, d.period.not_in(open_periods(now)), d.period.not_in(running)]


def _open_conditions(cutoff: dt.datetime) -> dict[str, tuple[Any, Any]]:
    """Per ledger kind, the item's id column and "could still be offered": it exists and did not close before the
    cut-off."""
    c, e, i, n = m.FundingCall, m.Event, m.Internship, m.Campaign
    call = (c.id, or_(c.next_deadline_at.is_(None), c.next_deadline_at >= cutoff))
    return {
        "call": call,
        "call_closing": call,
        "event": (e.id, e.starts_at >= cutoff),
        "internship": (i.id, i.closes_at >= cutoff),
        "news": (n.id, or_(n.published_at.is_(None), n.published_at >= cutoff)),
    }


IDS_PER_STATEMENT = 1000  # SQLite allows 32,766 parameters a statement


def _still_offered(session: Session, cutoff: dt.datetime, items: set[ledger.Item]) -> set[ledger.Item]:
    """Of ``items``, those that must stay: still offered, or of a kind this module does not know. One read per kind
    (items are shared by many subscribers, so a batch names few distinct ones)."""
    conditions = _open_conditions(cutoff)
    by_kind: dict[str, set[int]] = {}
    for kind, item_id in items:
        by_kind.setdefault(kind, set()).add(item_id)
    kept = {(kind, item_id) for kind, item_id in items if kind not in conditions}
    for kind, ids in by_kind.items():
        if kind not in conditions:
            continue
        id_col, still_open = conditions[kind]
        ordered = sorted(ids)
        for start in range(0, len(ordered), IDS_PER_STATEMENT):
            chunk = ordered[start : start + IDS_PER_STATEMENT]
            kept.update((kind, i) for i in session.scalars(select(id_col).where(id_col.in_(chunk), still_open)))
    return kept


def _prune_ledger_batch(session: Session, cutoff: dt.datetime, rows: list[Any], *, write: bool) -> int:
    """Drop the closed items of these ledger rows (delete a row left with none); returns the items dropped."""
    parsed = [(row.id, ledger.parse_items(row.items)) for row in rows]
    kept = _still_offered(session, cutoff, {item for _, items in parsed for item in items})
    d = m.DigestDelivery
    gone: list[int] = []
    rewritten: list[dict[str, Any]] = []
    dropped = 0
    for row_id, items in parsed:
        left = [item for item in items if item in kept]
        if len(left) == len(items):
            continue
        dropped += len(items) - len(left)
        if left:
            rewritten.append({"row_id": row_id, "left": ledger.items_text(left)})
        else:
            gone.append(row_id)
    if write and gone:
        session.execute(d.__table__.delete().where(d.id.in_(gone)))
    if write and rewritten:
        table = d.__table__
        session.execute(
            table.update().where(table.c.id == bindparam("row_id")).values(items=bindparam("left")), rewritten
        )
    return dropped


def _walk_ledger(
    scope: Callable[[], AbstractContextManager[Session]],
    stats: PruneStats,
    now: dt.datetime,
    upper: int,
    batch_size: int,
    progress: Callable[[PruneStats], None] | None,
) -> None:
    """Every candidate ledger row up to id ``upper``, a batch per session from ``scope`` and, writing, a commit per
    batch (``stats.dry_run``: count only, in the caller's session)."""
    d = m.DigestDelivery
    after = 0
    while after < upper:
        query = (
            select(d.id, d.items)
            .where(d.id > after, d.id <= upper, *_ledger_candidates(stats.cutoff, now))
            .order_by(d.id)
            .limit(batch_size)
        )
        with scope() as session:
            rows = session.execute(query).all()
            stats.ledger_deleted += _prune_ledger_batch(session, stats.cutoff, rows, write=not stats.dry_run)
            if not stats.dry_run:
                session.commit()
        stats.batches += 1
        if progress:
            progress(stats)
        if len(rows) < batch_size:
            break
        after = rows[-1].id


def count(session: Session, days: int, now: dt.datetime | None = None) -> PruneStats:
    """What a run would prune now (``crm mail prune --dry-run``): a COUNT of the outbox rows, and the ledger walked
    as a run would walk it, writing nothing."""
    now = now or dt.datetime.now(dt.UTC)
    stats = PruneStats(cutoff_for(days, now), dry_run=True)
    stats.outbox_cleared = session.scalar(select(func.count()).where(*_outbox_candidates(stats.cutoff))) or 0
    d = m.DigestDelivery
    upper = last_id_before(session, d.id, d.sent_at, stats.cutoff)
    _walk_ledger(lambda: contextlib.nullcontext(session), stats, now, upper, BATCH_SIZE, None)
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
    """Clear old outbox detail, then drop old closed items from the ledger, one commit per batch.

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
    _walk_ledger(factory, stats, now, ledger_upper, batch_size, progress)
    return stats
