"""Building one digest period's emails for a range of subscription ids, in keyset batches.

A run is cut into shards of subscription ids (``crm.digests.shards``: who builds which, locks, the run's end); this
module builds one id range. Per batch of ``BATCH_SIZE`` subscriptions, four SQL statements whatever it holds:

1. the subscriptions with their topics, regions, delivery ledger and hidden items (correlated aggregates);
2. ``INSERT … ON CONFLICT (idempotency_key) DO NOTHING RETURNING subscription_id`` of the outbox rows
   (key ``digest:{subscription}:{period}``), one statement (PostgreSQL: of arrays, ``outbox_sql``);
3. the ledger rows of the digests that step 2 actually inserted, one per digest with its items
   (``crm.digests.ledger``), ``ON CONFLICT DO NOTHING`` (PostgreSQL: one statement of arrays; SQLite: one
   executemany);
4. the batch's counts added to its shard row (and, in the range's last batch, the shard marked done).

Steps 2 to 4 share one short transaction, so a digest, its ledger row and the shard's progress commit together or
not at all: a worker killed half-way (``kill -9``) loses at most its uncommitted batch, and whoever builds the shard
next resumes after its last committed subscription (the ledger's highest subscription id of the period within the
shard's range). A batch whose subscribers all had nothing new writes nothing: its counts go with the next write.
Two builders of the same ids insert the same keys; the loser's inserts do nothing and its ledger rows are never
written, so a crash between a shard's last batch and its "done" only costs a re-read of its tail. Open items are
loaded once per run and process (a few statements) and matched in memory. Memory is bounded by one batch.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from crm import models as m
from crm.db import unit_of_work
from crm.digests import outbox_sql as sql
from crm.digests.batch import batch_query, load_catalogue, subscriber_view
from crm.digests.builder import primary_mailing, select_items
from crm.digests.ledger import items_text
from crm.digests.periods import Period
from crm.digests.render import renderer_for
from crm.digests.sections import DIGEST_MAILINGS, Catalogue, SubscriberView
from crm.mailing.dispatch import freeze_heap
from crm.settings import Settings

log = logging.getLogger("crm.digests")

BATCH_SIZE = 1000
KIND = "digest"
PAUSE_ENV = "CRM_DIGESTS_TEST_PAUSE_AFTER_BATCHES"  # test hook: hang inside batch N+1's transaction of a range


def idempotency_key(subscription_id: int, period: str) -> str:
    return f"digest:{subscription_id}:{period}"


@dataclasses.dataclass(slots=True)
class RunStats:
    run_id: int | None = None
    period: str = ""
    considered: int = 0
    sent: int = 0
    skipped_empty: int = 0
    already_sent: int = 0
    failed: int = 0
    batches: int = 0
    resumed_after: int = 0
    last_id: int = 0
    duration_ms: int = 0
    errors: list[tuple[int, str]] = dataclasses.field(default_factory=list)

    def line(self) -> str:
        return (
            f"period {self.period}: considered {self.considered}, queued {self.sent}, "
            f"skipped (nothing new) {self.skipped_empty}, already queued {self.already_sent}, "
            f"failed {self.failed}, {self.duration_ms / 1000:.1f} s"
        )


def digest_context(
    period: Period, run_id: int | None, sub: SubscriberView, sections: list[list[Any]]
) -> dict[str, Any]:
    return {"period": period.key, "frequency": period.frequency, "run": run_id, "name": sub.name, "sections": sections}


def stored_context(period: Period, run_id: int | None, sections: list[list[Any]]) -> dict[str, Any]:
    """What an outbox row keeps of ``digest_context``: the name is the row's ``recipient_name`` and the frequency
    follows from the period key (``periods.frequency_of``), so neither is stored twice (~40 B a digest of the
    2 kB budget, which pays for the stored copy's cheaper deflate level). Rows stored with both still render."""
    return {"period": period.key, "run": run_id, "sections": sections}


@dataclasses.dataclass(slots=True)
class RangeBuild:
    """What every id range of one run shares in one process, prepared once: the catalogue of open items (as of the
    run's start, so every worker's shards see the same items), item sizes, and the SQL."""

    factory: sessionmaker[Session]
    period: Period
    run_id: int | None
    now: dt.datetime
    dialect: str
    catalogue: Catalogue
    size_of: Any
    write_outbox: Callable[[Any, list[tuple[Any, ...]]], set[int]]
    write_ledger: Callable[[Any, list[tuple[int, str]], str, Any, Any], None]
    sent_at: Any
    batch_size: int = BATCH_SIZE
    dry_run: bool = False
    render_at_build: Any = None


def prepare(
    factory: sessionmaker[Session],
    settings: Settings,
    period: Period,
    run_id: int | None,
    now: dt.datetime,
    *,
    batch_size: int = BATCH_SIZE,
    dry_run: bool = False,
    render_at_build: Any = None,
) -> RangeBuild:
    """Load the run's catalogue and render each item's fragment once (the builder needs sizes: SendGrid's budget).

    ``render_at_build`` (a ``DigestRenderer``) stores rendered bodies instead of what to render; the benchmark uses
    it to compare both designs."""
    freeze_heap()
    with factory() as session:
        dialect = session.get_bind().dialect.name
        catalogue = load_catalogue(session, now, settings.base_url, period.starts_at)
        session.rollback()
    return RangeBuild(
        factory=factory,
        period=period,
        run_id=run_id,
        now=now,
        dialect=dialect,
        catalogue=catalogue,
        size_of=(render_at_build or renderer_for(settings)).sizer(catalogue),
        write_outbox=sql.outbox_writer(dialect, now),
        write_ledger=sql.ledger_writer(dialect),
        sent_at=sql.db_time(dialect, now),
        batch_size=batch_size,
        dry_run=dry_run,
        render_at_build=render_at_build,
    )


@dataclasses.dataclass(frozen=True, slots=True)
class ShardMark:
    """Where a range's progress goes: shard ``shard`` of run ``run_id``, built by ``worker`` (host:pid)."""

    run_id: int
    shard: int
    worker: str


def _counts(stats: RunStats) -> tuple[int, int, int, int, int]:
    return (stats.considered, stats.sent, stats.skipped_empty, stats.already_sent, stats.failed)


def build_range(
    b: RangeBuild,
    stats: RunStats,
    *,
    after: int,
    last_id: int | None = None,
    shard: ShardMark | None = None,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Queue the digest of every active subscription with ``after < id <= last_id`` (no bound: ``last_id`` None),
    adding to ``stats``. With ``shard``, every write also adds its counts to the shard row, and the range's last
    batch (or, when that batch wrote nothing, one tiny transaction after it) marks the shard done."""
    pause_after = int(os.environ.get(PAUSE_ENV, "0") or 0)
    flushed = _counts(stats)
    marked = False
    for batches, rows in enumerate(_batches(b, after, last_id), start=1):
        stats.batches += 1
        last = _is_last(b, rows, last_id)
        outbox_rows, ledger_by_sub, failures = _build_batch(b, stats, rows)
        after = rows[-1].id
        if b.dry_run:
            stats.sent += len(outbox_rows)
        elif outbox_rows or failures or (shard is not None and last):
            with unit_of_work(b.factory) as session:
                conn = session.connection()
                inserted = b.write_outbox(conn, outbox_rows)
                if pause_after and batches > pause_after:
                    log.warning("test hook %s: pausing inside batch %s", PAUSE_ENV, batches)
                    time.sleep(3600)
                # Through the driver: tens of thousands of small rows per run, so skipping SQLAlchemy's
                # per-parameter processing matters (one statement per batch).
                ledger_rows = [(sid, ledger_by_sub[sid]) for sid in sorted(inserted)]
                b.write_ledger(conn, ledger_rows, b.period.key, b.run_id, b.sent_at)
                if failures:
                    conn.execute(m.DigestFailure.__table__.insert(), failures)
                stats.sent += len(inserted)
                stats.already_sent += len(outbox_rows) - len(inserted)
                if shard is not None:
                    flushed = _progress(conn, b.dialect, shard, stats, flushed, through=after, done=last)
                    marked = last
        if progress is not None:
            progress(len(rows))
        stats.last_id = after
    if shard is not None and not marked and not b.dry_run:
        # The range's tail had nothing to write (or no rows at all): done in a transaction of its own. A crash just
        # before it leaves the shard waiting; its next builder re-reads the tail and queues nothing twice.
        with unit_of_work(b.factory) as session:
            _progress(session.connection(), b.dialect, shard, stats, flushed, through=stats.last_id, done=True)


def _is_last(b: RangeBuild, rows: list[Any], last_id: int | None) -> bool:
    return len(rows) < b.batch_size or (last_id is not None and rows[-1].id >= last_id)


def _batches(b: RangeBuild, after: int, last_id: int | None) -> Iterator[list[Any]]:
    """The range's batches of subscription rows, in id order. Each is read on a thread of its own while the caller
    builds and writes the one before: a batch's read is the database's work and its build the process's, and one
    after the other each waited for the other (a million digests with one builder finished building as fast as with
    two, docs/scale.md). A read touches only ids after the batch being written, so what it sees is what it would
    have seen after that write: nothing of those ids is written by this range before its own turn."""

    def read(after: int) -> list[Any]:
        with b.factory() as session:
            query = batch_query(
                b.dialect, b.period.frequency, after, b.batch_size, since=b.period.starts_at, until=last_id
            )
            rows = session.execute(query).all()
            session.rollback()  # end the read transaction at once (SQLite: let writers in)
        return rows

    with ThreadPoolExecutor(1, thread_name_prefix="digest-read") as reader:
        pending = reader.submit(read, after)
        while True:
            rows = pending.result()
            if not rows:
                return
            final = _is_last(b, rows, last_id)
            if not final:
                pending = reader.submit(read, rows[-1].id)
            yield rows
            if final:
                return


def _progress(
    conn: Any,
    dialect: str,
    shard: ShardMark,
    stats: RunStats,
    flushed: tuple[int, ...],
    *,
    through: int,
    done: bool,
) -> tuple[int, int, int, int, int]:
    """Add what ``stats`` gained since ``flushed`` to the shard row with ``through``, the last subscription id those
    counts cover (one statement), in the caller's transaction: whoever takes the shard over resumes after it."""
    now = _counts(stats)
    params: list[Any] = [*(a - b for a, b in zip(now, flushed, strict=True)), through]
    if done:
        params += [shard.worker, sql.db_time(dialect, dt.datetime.now(dt.UTC))]
    conn.exec_driver_sql(sql.shard_progress_sql(dialect, done=done), (*params, shard.run_id, shard.shard))
    return now


def _build_batch(
    b: RangeBuild, stats: RunStats, rows: list[Any]
) -> tuple[list[tuple[Any, ...]], dict[int, str], list[dict[str, Any]]]:
    """Each subscriber's digest of one batch, in memory: outbox rows, ledger items (text) by subscription,
    failures."""
    period, render_at_build = b.period, b.render_at_build
    outbox_rows: list[tuple[Any, ...]] = []
    ledger_by_sub: dict[int, str] = {}
    failures: list[dict[str, Any]] = []
    for row in rows:
        stats.considered += 1
        try:
            sub = subscriber_view(row)
            if not (sub.mailings & DIGEST_MAILINGS):
                stats.skipped_empty += 1
                continue
            selection = select_items(b.catalogue, sub, period.cutoff, b.size_of)
            if selection.empty:
                stats.skipped_empty += 1
                continue
            mailing = primary_mailing(sub.mailings)
            subject, text, html, headers = "", None, None, {}
            if render_at_build is not None:
                context = digest_context(period, b.run_id, sub, selection.sections)
                rendered = render_at_build.render(
                    b.catalogue, context, email=sub.email, subscription_id=sub.id, mailing=mailing
                )
                if rendered is None:
                    stats.skipped_empty += 1
                    continue
                email, headers = rendered
                subject, text, html = email.subject, email.text, email.html
        except Exception as exc:  # one subscriber's bad data must not stop the run
            log.exception("digest for subscription %s failed", row.id)
            stats.failed += 1
            error = f"{type(exc).__name__}: {exc}"[:2000]
            stats.errors.append((row.id, error))
            failures.append(
                {
                    "run_id": b.run_id,
                    "subscription_id": row.id,
                    "period": period.key,
                    "stage": "build",
                    "error": error,
                    "created_at": b.now,
                }
            )
            continue
        ledger_by_sub[sub.id] = items_text(selection.ledger)
        outbox_rows.append(
            (
                idempotency_key(sub.id, period.key),
                sub.email,
                sub.name,
                subject,
                text,
                html,
                sql.json_text(headers),
                None
                if render_at_build is not None
                else sql.json_text(stored_context(period, b.run_id, selection.sections)),
                sub.id,
                mailing,
            )
        )
    return outbox_rows, ledger_by_sub, failures


def new_run(session: Session, period: Period, *, trigger: str, dry_run: bool, now: dt.datetime) -> m.DigestRun:
    """The run row of ``period``, started ``now`` (flushed: its id is known), for a real run or a dry run."""
    run = m.DigestRun(
        period=period.key,
        frequency=period.frequency,
        trigger=trigger,
        dry_run=dry_run,
        cutoff_at=period.cutoff,
        started_at=now,
    )
    session.add(run)
    session.flush()
    return run


def run_period(
    factory: sessionmaker[Session],
    settings: Settings,
    period: Period,
    *,
    now: dt.datetime | None = None,
    dry_run: bool = False,
    trigger: str = "manual",
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    render_at_build: Any = None,
) -> RunStats:
    """Queue this period's digest for every active subscription of its frequency, exactly once each: plan the run
    (or find its unfinished run) and build every shard this process can take (``crm.digests.shards``). Shards that
    other workers hold are theirs; the figures returned are this process's. ``dry_run`` selects and counts in one
    range but writes nothing except its run row."""
    from crm.digests import shards  # shards builds on this module

    started = time.perf_counter()
    now = now or dt.datetime.now(dt.UTC)
    if dry_run:
        return _dry_run(factory, settings, period, now, trigger, batch_size, progress, render_at_build)
    run_id = shards.plan(factory, settings, period, now=now, trigger=trigger)
    stats = RunStats(run_id=run_id, period=period.key)
    for built in shards.build_available(
        factory,
        settings,
        run_id=run_id,
        batch_size=batch_size,
        wait=True,  # SQLite: after another process's build, not instead of it
        progress=progress,
        render_at_build=render_at_build,
    ):
        stats.considered += built.considered
        stats.sent += built.sent
        stats.skipped_empty += built.skipped_empty
        stats.already_sent += built.already_sent
        stats.failed += built.failed
        stats.batches += built.batches
        stats.resumed_after = max(stats.resumed_after, built.resumed_after)
        stats.last_id = max(stats.last_id, built.last_built)
        stats.errors.extend(built.errors)
    stats.duration_ms = int((time.perf_counter() - started) * 1000)
    log.info("digests %s", stats.line())
    return stats


def _dry_run(
    factory: sessionmaker[Session],
    settings: Settings,
    period: Period,
    now: dt.datetime,
    trigger: str,
    batch_size: int,
    progress: Callable[[int], None] | None,
    render_at_build: Any,
) -> RunStats:
    started = time.perf_counter()
    with unit_of_work(factory) as session:
        stats = RunStats(run_id=new_run(session, period, trigger=trigger, dry_run=True, now=now).id, period=period.key)
    b = prepare(
        factory,
        settings,
        period,
        stats.run_id,
        now,
        batch_size=batch_size,
        dry_run=True,
        render_at_build=render_at_build,
    )
    error = ""
    try:
        build_range(b, stats, after=0, progress=progress)
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        stats.duration_ms = int((time.perf_counter() - started) * 1000)
        with unit_of_work(factory) as session:
            session.execute(
                update(m.DigestRun)
                .where(m.DigestRun.id == stats.run_id)
                .values(
                    considered=stats.considered,
                    sent=stats.sent,
                    skipped_empty=stats.skipped_empty,
                    failed=stats.failed,
                    duration_ms=stats.duration_ms,
                    last_subscription_id=stats.last_id,
                    finished_at=dt.datetime.now(dt.UTC),
                    status=m.DigestRunStatus.FAILED if error else m.DigestRunStatus.DONE,
                    error=error[:2000],
                )
            )
    log.info("digests (dry run) %s", stats.line())
    return stats
