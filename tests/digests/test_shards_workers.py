"""Issue 21.3, the kill trial: two real ``crm worker`` processes on PostgreSQL share a digest run's shards, one is
killed with SIGKILL in the middle of a shard, and the other finishes every shard: each active subscriber with
something to receive has exactly one digest in the outbox, none is missing, nobody else got one.

The run is planned by the test (the next weekly period, as of now: the workers' shared job leaves a period more
than three days late alone, and their clock is the real one; shards of ``SHARD`` ids); the workers build it
through their ``digests.build_shards`` job with batches of ``BATCH`` (``shards.BATCH_ENV``). The victim is started
first, alone, with the engine's pause hook: it commits ``PAUSE`` batches of its first shard and hangs inside the next
batch's transaction, holding that shard's lock. The second worker then builds the other shards beside it; once it
has finished some, the victim is killed: its session ends, the lock is free, and the survivor takes the shard over,
resuming after the victim's last committed batch. SQLite has one writer and no shared jobs: nothing to test there
(the in-process resume and lost-mark cases are in test_shards.py on both databases).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.db import create_session_factory
from crm.digests import engine, periods, shards
from crm.digests.ledger import delivered
from jobs.lock import SchedulerLock
from tests import factories
from tests.conftest import Database
from tests.digests import helpers as h

ROOT = Path(__file__).resolve().parents[2]
RECEIVERS = 1200  # each matches two calls
NOTHING = 60  # active, weekly, but nothing matches them: no digest
SHARD = 100
BATCH = 20
PAUSE = 3


class Worker:
    """One ``crm worker`` process, its output in a log file; stopped only by its own handle."""

    def __init__(self, name: str, database: Database, log: Path, **extra: str) -> None:
        self.name, self.log = name, log
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
        env.update(
            CRM_ENV="test",
            CRM_DATABASE_URL=database.url,
            CRM_SECRET_KEY="shard-workers-test-secret-0123456789-abcdef",
            CRM_BASE_URL="http://testserver.local",
            CRM_DISPATCH_INTERVAL_SECONDS="3600",  # this trial is about building; nothing is sent meanwhile
            PYTHONUNBUFFERED="1",
            PYTHONPATH=str(ROOT),
            **{shards.BATCH_ENV: str(BATCH)},
            **extra,
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crm.cli", "worker"],
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
        self.builder = f"{socket.gethostname()}:{self.proc.pid}"  # how the shard rows name it

    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=20)


def _until(done: Callable[[], bool], timeout: float, why: str, *workers: Worker) -> None:
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=timeout)
    while not done():
        if dt.datetime.now(dt.UTC) > deadline:
            logs = "\n".join(f"--- worker {w.name}:\n{w.output()[-4000:]}" for w in workers)
            pytest.fail(f"{why} within {timeout} s\n{logs}")
        time.sleep(0.2)


@pytest.fixture
def workers(database: Database, db: Session) -> Iterator[list[Worker]]:
    if database.kind != "postgres":
        pytest.skip("SQLite has one writer: workers share no jobs there (tests/digests/test_shards.py covers it)")
    started: list[Worker] = []
    try:
        yield started
    finally:
        for worker in started:
            worker.stop()
        database.isolation.reset()


def seed(db: Session, period: periods.Period, now: dt.datetime) -> tuple[list[int], list[int]]:
    """Receivers and subscribers with nothing new, interleaved (every shard holds both), inserted in bulk; four
    calls published in ``period`` before ``now``, open for two months."""
    ts = h.topics(db)
    f = factories.funder(db)
    published = period.starts_at + (now - period.starts_at) / 2
    for i in range(4):
        h.call(db, f, topic_ids=(ts[i % 2].id,), published_at=published, deadline=now + dt.timedelta(days=60))
    every = RECEIVERS // NOTHING
    rows: list[dict[str, Any]] = []
    topic_of: list[int] = []
    for i in range(RECEIVERS + NOTHING):
        empty = i % (every + 1) == every
        rows.append(
            {
                "email": f"shard-reader{i}@example.org",
                "name": f"Reader {i}",
                "mailings": ["funding_digest"],
                "funder_ids": [],
                "only_vcse_partner_calls": False,
                "filters": {},
                "frequency": m.Frequency.WEEKLY,
                "status": m.SubscriptionStatus.ACTIVE,
                "confirmed_at": h.NOW - dt.timedelta(days=30),
            }
        )
        topic_of.append(ts[5].id if empty else ts[i % 2].id)
    ids = list(db.scalars(insert(m.Subscription).returning(m.Subscription.id, sort_by_parameter_order=True), rows))
    db.execute(
        insert(m.subscription_topics),
        [{"subscription_id": s, "topic_id": t} for s, t in zip(ids, topic_of, strict=True)],
    )
    # Periods really due now are marked done, so the leader's catch-up plans nothing of its own meanwhile.
    for due in periods.due_periods(now):
        db.add(
            m.DigestRun(
                period=due.key,
                frequency=due.frequency,
                cutoff_at=due.cutoff,
                status=m.DigestRunStatus.DONE,
                trigger="test",
            )
        )
    db.commit()
    receivers = [s for s, t in zip(ids, topic_of, strict=True) if t != ts[5].id]
    return receivers, [s for s in ids if s not in set(receivers)]


def _shards(db: Session, run_id: int) -> list[m.DigestShard]:
    db.rollback()
    db.expire_all()
    return list(db.scalars(select(m.DigestShard).where(m.DigestShard.run_id == run_id).order_by(m.DigestShard.shard)))


@pytest.mark.timeout(420)
@pytest.mark.parametrize("victim_role", ["leader", "shared"])
def test_two_workers_share_a_run_and_a_killed_one_loses_nothing(
    database, db, settings, workers, tmp_path, victim_role, request
) -> None:
    """``leader``: the victim starts first and leads; the survivor takes over the scheduler too. ``shared``: the
    test holds the scheduler lock, so both workers only do shared work (a killed non-leader)."""
    held_by_test = SchedulerLock(database.engine)
    if victim_role == "shared":
        assert held_by_test.try_acquire()
        request.addfinalizer(held_by_test.release)
    now = dt.datetime.now(dt.UTC)
    period = periods.latest_due(periods.WEEKLY, now).next()  # due within a week: not late for anyone
    receivers, nothing = seed(db, period, now)
    run_id = shards.plan(create_session_factory(db.get_bind()), settings, period, now=now, shard_size=SHARD)
    total = len(_shards(db, run_id))
    assert total == -(-max(receivers + nothing) // SHARD) >= 10

    victim = Worker("victim", database, tmp_path / "victim.log", **{engine.PAUSE_ENV: str(PAUSE)})
    workers.append(victim)

    def victim_paused() -> m.DigestShard | None:
        held = [
            s for s in _shards(db, run_id) if s.worker == victim.builder and s.status == m.DigestShardStatus.WAITING
        ]
        return held[0] if held and held[0].considered == PAUSE * BATCH else None

    _until(lambda: victim_paused() is not None, 180, "the victim never paused inside a shard", victim)
    _until(lambda: "pausing inside batch" in victim.output(), 60, "the victim did not pause", victim)
    held = victim_paused()
    assert held is not None

    assert f"worker role: {victim_role}" in victim.output()
    survivor = Worker("survivor", database, tmp_path / "survivor.log")
    workers.append(survivor)
    _until(lambda: "worker role: shared work" in survivor.output(), 120, "no shared work", victim, survivor)

    def survivor_done(n: int) -> bool:
        return (
            sum(s.worker == survivor.builder and s.status == m.DigestShardStatus.DONE for s in _shards(db, run_id)) >= n
        )

    # Mid-run: the survivor has finished some shards, the victim still holds its own (a lock the survivor skips).
    _until(lambda: survivor_done(2), 180, "the survivor built no shard beside the victim", victim, survivor)
    before_kill = _shards(db, run_id)
    done_at_kill = sum(s.status == m.DigestShardStatus.DONE for s in before_kill)  # (the rows refresh later)
    assert [s.shard for s in before_kill if s.status == m.DigestShardStatus.WAITING and s.worker == victim.builder] == [
        held.shard
    ]
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait(timeout=20)
    assert victim.proc.returncode == -signal.SIGKILL

    def run_done() -> bool:
        db.rollback()
        return db.scalar(select(m.DigestRun.status).where(m.DigestRun.id == run_id)) == m.DigestRunStatus.DONE

    _until(run_done, 180, "the survivor did not finish the run", survivor)
    after = _shards(db, run_id)
    assert all(s.status == m.DigestShardStatus.DONE for s in after)
    taken = next(s for s in after if s.shard == held.shard)
    assert taken.worker == survivor.builder  # the dead worker's shard, taken over
    in_taken = [s for s in receivers if taken.first_id <= s <= taken.last_id]
    assert taken.sent == len(in_taken) and taken.already_sent == 0  # resumed after the victim's 3 batches
    assert {s.worker for s in after} == {survivor.builder}  # everything else was the survivor's too

    per_subscriber = dict(
        db.execute(
            select(m.OutboxMessage.subscription_id, func.count())
            .where(m.OutboxMessage.idempotency_key.like(f"digest:%:{period.key}"))
            .group_by(m.OutboxMessage.subscription_id)
        ).all()
    )
    assert per_subscriber == dict.fromkeys(receivers, 1)  # exactly one each, none missing, none for `nothing`
    items = delivered(db)
    assert len(items) == 2 * len(receivers) and len(set(items)) == len(items)
    run = db.get(m.DigestRun, run_id)
    assert (run.sent, run.already_sent, run.failed) == (len(receivers), 0, 0)
    # Exact: the survivor resumed after what the victim's counts covered, so nothing is counted twice.
    assert (run.considered, run.skipped_empty) == (len(receivers) + len(nothing), len(nothing))
    print(
        f"\nshard workers (postgres, {victim_role} killed): {len(receivers) + len(nothing)} subscribers in {total} shards of {SHARD}; the "
        f"victim held shard {held.shard} after {PAUSE} batches of {BATCH}; killed when the survivor had "
        f"{done_at_kill} of {total} done; the survivor finished all; "
        f"{len(receivers)} digests, 0 duplicates, 0 missing"
    )
