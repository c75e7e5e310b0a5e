"""Digest building shared by workers (issue 21.3): a run is cut into shards of subscription ids, each built by
whichever process holds its lock, and the run is done when its last shard is.

- ``plan`` creates a period's run and its shards once: fixed ranges ``[k·W + 1, (k+1)·W]`` (W = ``SHARD_SIZE``) from
  id 1 up to the highest active subscription id of the frequency at that moment. Planning twice returns the
  unfinished run (PostgreSQL: serialised by a transaction-level advisory lock per period).
- ``build_available`` builds every waiting shard this process can lock, one after another, until none is left that
  it can lock. PostgreSQL: ``pg_try_advisory_lock(LOCK_NAMESPACE, hashtext('digest:' || period || ':' || shard))``
  on a connection of its own, held while the shard is built; a lock already held means another worker builds it,
  so the shard is skipped. A worker killed with SIGKILL loses its session, which frees the lock: the next worker
  to try takes the shard over and resumes after the last subscription its row's counts cover (``built_through``,
  written with the counts), so a takeover counts nothing twice; a shard of a run planned after a failed one
  resumes after the ledger's highest subscription id of the period within its range. SQLite has one writer: no second worker builds (shared jobs are PostgreSQL-only); one process at a
  time builds, in order, under a file lock beside the database (so the leader's two digest jobs never build the
  same shard at once).
- Each shard is marked done in its last batch's transaction (``engine.build_range``); when a run has no waiting
  shard left it is finished (status done, counters = the sums of its shards) by whoever notices first: the builder
  of its last shard, or any later ``build_available`` (a crash between the two is therefore harmless).

Exactly-once does not rest on the locks: the outbox key ``digest:{subscription}:{period}`` and the ledger rows commit
together per batch, so two builders of the same ids (a lock lost with its connection) still queue each digest once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, exists, func, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from crm import models as m
from crm.db import unit_of_work
from crm.digests import engine
from crm.digests.periods import MAX_LATENESS, Period, parse
from crm.settings import Settings

log = logging.getLogger("crm.digests")

SHARD_SIZE = 50_000  # subscription ids per shard: 20 shards at 1,000,000
LOCK_NAMESPACE = 0x44475354  # "DGST": first key of the two-int advisory locks (jobs.lock uses the one-bigint space)
BATCH_ENV = "CRM_DIGESTS_TEST_BATCH_SIZE"  # test hook: a worker's batch size, so a small shard has several batches
COUNTS = ("considered", "sent", "skipped_empty", "already_sent", "failed")

S, R = m.DigestShard, m.DigestRun
RUNNING, WAITING = m.DigestRunStatus.RUNNING, m.DigestShardStatus.WAITING


@dataclasses.dataclass(slots=True)
class ShardStats:
    """One shard as this process built it (counts are this build's; the shard row also holds earlier builders')."""

    run_id: int
    period: str
    shard: int
    first_id: int
    last_id: int
    worker: str
    resumed_after: int = 0
    considered: int = 0
    sent: int = 0
    skipped_empty: int = 0
    already_sent: int = 0
    failed: int = 0
    batches: int = 0
    last_built: int = 0
    duration_ms: int = 0
    run_done: bool = False  # this shard was its run's last: the run is finished
    errors: list[tuple[int, str]] = dataclasses.field(default_factory=list)


def ranges(top: int, shard_size: int = SHARD_SIZE) -> list[tuple[int, int]]:
    """The fixed id ranges of a run whose highest active subscription id is ``top``."""
    if shard_size < 1:
        raise ValueError("shard_size must be at least 1")
    return [(start, min(start + shard_size - 1, top)) for start in range(1, top + 1, shard_size)]


def plan(
    factory: sessionmaker[Session],
    settings: Settings,
    period: Period,
    *,
    now: dt.datetime | None = None,
    trigger: str = "schedule",
    shard_size: int = SHARD_SIZE,
) -> int:
    """The run of ``period`` and its shard rows, created once; an unfinished non-dry run of this period with shards
    is returned instead. ``now`` is the run's start: every shard is built with the open items as of then."""
    now = now or dt.datetime.now(dt.UTC)
    with unit_of_work(factory) as session:
        _serialise_planning(session, period.key)
        existing = session.scalar(
            select(R.id)
            .where(R.period == period.key, R.dry_run.is_(False), R.status == RUNNING, exists().where(S.run_id == R.id))
            .order_by(R.id.desc())
            .limit(1)
        )
        if existing is not None:
            return existing
        Sub = m.Subscription
        top = session.scalar(
            select(func.max(Sub.id)).where(Sub.status == m.SubscriptionStatus.ACTIVE, Sub.frequency == period.frequency)
        )
        run = engine.new_run(session, period, trigger=trigger, dry_run=False, now=now)
        bounds = ranges(top or 0, shard_size)
        if bounds:
            zero = dict.fromkeys(COUNTS, 0)
            session.execute(
                insert(S),
                [
                    {"run_id": run.id, "shard": k, "first_id": a, "last_id": b, "status": WAITING, "worker": "", **zero}
                    for k, (a, b) in enumerate(bounds)
                ],
            )
        else:  # nobody to build for: done at once
            run.status, run.finished_at, run.duration_ms = m.DigestRunStatus.DONE, dt.datetime.now(dt.UTC), 0
        log.info("digests: planned run %s of %s in %s shards (ids up to %s)", run.id, period.key, len(bounds), top)
        return run.id


def _serialise_planning(session: Session, period_key: str) -> None:
    """Two planners of one period run one after the other, so the second finds the first's run."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:ns, hashtext(:key))"),
            {"ns": LOCK_NAMESPACE, "key": f"plan:{period_key}"},
        )
    else:  # take SQLite's write lock now (waits on busy_timeout) instead of failing to upgrade a read later
        session.execute(update(R).where(R.id < 0).values(error=""))


def build_available(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    now: dt.datetime | None = None,
    worker: str | None = None,
    run_id: int | None = None,
    batch_size: int | None = None,
    wait: bool = False,
    progress: Callable[[int], None] | None = None,
    render_at_build: Any = None,
) -> list[ShardStats]:
    """Build every waiting shard of the running runs (only ``run_id``'s, if given) that this process can lock, one
    after another, until no waiting shard is left that it can lock; finish each run whose shards are all done.

    Without ``run_id``, a run whose period is more than ``MAX_LATENESS`` late at ``now`` (default: the clock) is
    left alone, as the scheduler leaves such a period (``periods.due_periods``): workers that come back after days
    send no stale digests; a run by hand (``run_period``, which passes its ``run_id``) still resumes it. With
    nothing waiting this is one statement. ``worker`` names this builder on the shard rows (default host:pid); a
    shard's start and end are stamped by the clock, whatever ``now`` (the run's duration is from them). ``wait``
    (SQLite): wait for another process's build to end instead of leaving the work to it. Returns what this call
    built."""
    worker = (worker or f"{socket.gethostname()}:{os.getpid()}")[:80]
    size = batch_size or int(os.environ.get(BATCH_ENV, "0") or 0) or engine.BATCH_SIZE
    with factory() as session:
        bind = session.get_bind()
    assert isinstance(bind, Engine)
    built: list[ShardStats] = []
    prepared: dict[int, engine.RangeBuild] = {}
    with _process_gate(bind, wait) as ours:
        if not ours:
            return built
        while True:
            waiting = _waiting_shards(factory, run_id, now or dt.datetime.now(dt.UTC))
            took = False
            for shard_run, period_key, shard in waiting:
                with _shard_lock(bind, period_key, shard) as got:
                    if not got:
                        continue  # another worker builds it
                    one = _build_shard(
                        factory, settings, shard_run, shard, worker, size, prepared, progress, render_at_build
                    )
                if one is not None:
                    built.append(one)
                    took = True
            if not took:
                return built


def _waiting_shards(factory: sessionmaker[Session], run_id: int | None, now: dt.datetime) -> list[tuple[int, str, int]]:
    """Waiting shards of running runs (``run_id``'s, or those not too late), in order; runs found with none
    waiting are finished on the way."""
    query = (
        select(S.run_id, R.period, S.shard, S.status)
        .join(R, R.id == S.run_id)
        .where(R.status == RUNNING, R.dry_run.is_(False))
        .order_by(S.run_id, S.shard)
    )
    # A given run whatever its age; otherwise only runs whose period is not too late.
    query = query.where(R.id == run_id if run_id is not None else R.cutoff_at >= now - MAX_LATENESS)
    with factory() as session:
        rows = session.execute(query).all()
        session.rollback()
    waiting = [(r, period, k) for r, period, k, status in rows if status == WAITING]
    complete = {r for r, *_ in rows} - {r for r, *_ in waiting}
    if complete:
        finish_runs(factory, sorted(complete))
    return waiting


def _build_shard(
    factory: sessionmaker[Session],
    settings: Settings,
    run_id: int,
    shard: int,
    worker: str,
    batch_size: int,
    prepared: dict[int, engine.RangeBuild],
    progress: Callable[[int], None] | None,
    render_at_build: Any,
) -> ShardStats | None:
    """Build one shard whose lock this process holds: re-read it (finished meanwhile: None), resume after what its
    row's counts cover (or the ledger's highest subscription id of the period in its range), build the rest, finish
    the run if it was last."""
    started = time.perf_counter()
    with unit_of_work(factory) as session:
        row = session.execute(
            select(
                S.first_id, S.last_id, S.status, S.built_through, R.period, R.started_at, R.status.label("run_status")
            )
            .join(R, R.id == S.run_id)
            .where(S.run_id == run_id, S.shard == shard)
        ).one_or_none()
        if row is None or row.status != WAITING or row.run_status != RUNNING:
            return None
        L = m.DigestDelivery
        resume = session.scalar(
            select(func.max(L.subscription_id)).where(
                L.period == row.period, L.subscription_id >= row.first_id, L.subscription_id <= row.last_id
            )
        )
        session.execute(
            update(S)
            .where(S.run_id == run_id, S.shard == shard)
            .values(worker=worker, started_at=func.coalesce(S.started_at, dt.datetime.now(dt.UTC)))
        )
    period = parse(row.period)
    if run_id not in prepared:  # the catalogue as of the run's start, once per run and process
        prepared[run_id] = engine.prepare(
            factory, settings, period, run_id, row.started_at, batch_size=batch_size, render_at_build=render_at_build
        )
    stats = engine.RunStats(run_id=run_id, period=row.period)
    # After what an earlier builder of this shard counted (its counts are in the row), or, for a run planned after
    # a failed one, after what the ledger shows was queued for the period.
    after = max(row.first_id - 1, resume or 0, row.built_through)
    if after >= row.first_id:
        log.info("digests: run %s shard %s resumes after subscription %s", run_id, shard, after)
    try:
        engine.build_range(
            prepared[run_id],
            stats,
            after=after,
            last_id=row.last_id,
            shard=engine.ShardMark(run_id, shard, worker),
            progress=progress,
        )
    except Exception as exc:  # the run stops (as a single-process run did); catch-up plans a new one that resumes
        fail_run(factory, run_id, f"shard {shard} ({worker}): {type(exc).__name__}: {exc}")
        raise
    done = run_id in finish_runs(factory, [run_id])
    return ShardStats(
        run_id=run_id,
        period=row.period,
        shard=shard,
        first_id=row.first_id,
        last_id=row.last_id,
        worker=worker,
        resumed_after=after if after >= row.first_id else 0,
        considered=stats.considered,
        sent=stats.sent,
        skipped_empty=stats.skipped_empty,
        already_sent=stats.already_sent,
        failed=stats.failed,
        batches=stats.batches,
        last_built=stats.last_id,
        duration_ms=int((time.perf_counter() - started) * 1000),
        run_done=done,
        errors=stats.errors,
    )


def _sums() -> dict[str, Any]:
    """The run's counters as the sums of its shards' (correlated subqueries of an UPDATE of the run)."""
    values: dict[str, Any] = {
        c: select(func.coalesce(func.sum(getattr(S, c)), 0)).where(S.run_id == R.id).scalar_subquery() for c in COUNTS
    }
    values["last_subscription_id"] = select(func.coalesce(func.max(S.last_id), 0)).where(S.run_id == R.id)
    values["last_subscription_id"] = values["last_subscription_id"].scalar_subquery()
    return values


def finish_runs(factory: sessionmaker[Session], run_ids: list[int]) -> set[int]:
    """Mark done those of ``run_ids`` still running with every shard done, counters = sums of their shards (one
    statement; run by whoever notices, so two workers finishing their last shards at once are both safe: the
    later one to commit sees the other's shard done). Returns the runs it finished."""
    now = dt.datetime.now(dt.UTC)
    waiting = exists().where(S.run_id == R.id, S.status == WAITING)
    with unit_of_work(factory) as session:
        finished = set(
            session.scalars(
                update(R)
                .where(R.id.in_(run_ids), R.status == RUNNING, exists().where(S.run_id == R.id), ~waiting)
                .values(status=m.DigestRunStatus.DONE, finished_at=now, **_sums())
                .returning(R.id)
            )
        )
        for run_id in finished:  # the run's wall time: from its first shard's start to its last shard's end
            first, last = session.execute(
                select(func.min(S.started_at), func.max(S.finished_at)).where(S.run_id == run_id)
            ).one()
            if first is not None and last is not None:
                ms = int((_aware(last) - _aware(first)).total_seconds() * 1000)
                session.execute(update(R).where(R.id == run_id).values(duration_ms=max(ms, 0)))
    for run_id in finished:
        log.info("digests: run %s done (its last shard is)", run_id)
    return finished


def _aware(value: Any) -> dt.datetime:
    """min()/max() of a UTC column come back as the driver gives them (SQLite: text)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def fail_run(factory: sessionmaker[Session], run_id: int, error: str) -> None:
    """The run stops with ``error``: its shards are taken no more; the counters are what its shards reached."""
    with unit_of_work(factory) as session:
        session.execute(
            update(R)
            .where(R.id == run_id, R.status == RUNNING)
            .values(status=m.DigestRunStatus.FAILED, error=error[:2000], finished_at=dt.datetime.now(dt.UTC), **_sums())
        )


@contextlib.contextmanager
def _shard_lock(bind: Engine, period_key: str, shard: int) -> Iterator[bool]:
    """PostgreSQL: try the shard's advisory lock on a connection of its own, held until the block ends (or the
    process dies). SQLite: always True (``_process_gate`` already keeps other processes out)."""
    if bind.dialect.name != "postgresql":
        yield True
        return
    conn = bind.connect()
    got = False
    try:
        key = f"digest:{period_key}:{shard}"
        got = bool(
            conn.execute(
                text("SELECT pg_try_advisory_lock(:ns, hashtext(:key))"), {"ns": LOCK_NAMESPACE, "key": key}
            ).scalar()
        )
        conn.commit()  # hold the session-level lock without an open transaction
        yield got
    finally:
        if got:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:ns, hashtext(:key))"), {"ns": LOCK_NAMESPACE, "key": key})
                conn.commit()
            except Exception:  # a connection that cannot unlock must not go back to the pool holding the lock
                conn.invalidate()
        conn.close()


_MEMORY_GATE = threading.Lock()


@contextlib.contextmanager
def _process_gate(bind: Engine, wait: bool) -> Iterator[bool]:
    """SQLite: one builder at a time (an exclusive file lock beside the database, freed by the OS if the process
    dies); ``wait`` False yields False when another holds it. PostgreSQL: no gate (the shard locks share the work)."""
    if bind.dialect.name == "postgresql":
        yield True
        return
    database = bind.url.database
    if not database or database == ":memory:":
        got = _MEMORY_GATE.acquire(blocking=wait)
        try:
            yield got
        finally:
            if got:
                _MEMORY_GATE.release()
        return
    path = Path(database).with_suffix(".digest-shards.lock")
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
