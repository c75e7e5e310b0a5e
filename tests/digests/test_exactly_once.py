"""Exactly once per subscription per period on PostgreSQL: kill -9 half-way and rerun, two runs racing, and one
active scheduler (advisory lock) with a standby that takes over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm import models as m
from crm.db import create_session_factory
from crm.digests import engine, periods
from crm.digests.ledger import delivered
from crm.settings import PROJECT_ROOT
from jobs.lock import SchedulerLock
from tests import factories
from tests.conftest import TEST_SECRET
from tests.digests import helpers as h

PERIOD = periods.parse(h.WEEK)
SUBSCRIBERS = 60


@pytest.fixture
def pg(database):
    if database.kind != "postgresql" and database.kind != "postgres":
        pytest.skip("concurrency and kill tests run on PostgreSQL (SQLite has a single writer)")
    return database


def seed(db) -> None:
    ts = h.topics(db)
    f = factories.funder(db)
    for i in range(4):
        h.call(db, f, topic_ids=(ts[i % 2].id,))
    for i in range(SUBSCRIBERS):
        h.subscription(db, topic_ids=(ts[i % 2].id,))
    db.commit()


def assert_exactly_once(db) -> None:
    rows = db.execute(
        select(m.OutboxMessage.subscription_id, func.count()).group_by(m.OutboxMessage.subscription_id)
    ).all()
    assert len(rows) == SUBSCRIBERS and all(n == 1 for _, n in rows)
    items = delivered(db)
    assert items and len(set(items)) == len(items)  # no item twice to anyone
    assert len(items) == SUBSCRIBERS * 2  # each subscriber matches two calls


def _env(pg, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CRM_ENV="test",
        CRM_DATABASE_URL=pg.url,
        CRM_SECRET_KEYS=TEST_SECRET,
        CRM_BASE_URL=h.BASE_URL if hasattr(h, "BASE_URL") else "http://testserver.local",
        **extra,
    )
    return env


@pytest.mark.timeout(300)
def test_kill_9_half_way_then_rerun_sends_each_digest_once(pg, db, settings, tmp_path) -> None:
    seed(db)
    log_path = tmp_path / "run.log"
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "crm"), "digests", "run", "--period", h.WEEK, "--batch-size", "10"],
        cwd=PROJECT_ROOT,
        env=_env(pg, **{engine.PAUSE_ENV: "2"}),
        stdout=subprocess.DEVNULL,
        stderr=open(log_path, "w"),  # noqa: SIM115
    )
    try:
        # Wait until two batches are committed and the third hangs inside its transaction (rows inserted, not committed).
        deadline = time.monotonic() + 180  # generous: CI machines can be busy
        while time.monotonic() < deadline:
            db.rollback()
            if db.scalar(select(func.count()).select_from(m.OutboxMessage)) >= 20:
                break
            time.sleep(0.2)
        time.sleep(1.0)
        db.rollback()
        queued = db.scalar(select(func.count()).select_from(m.OutboxMessage))
        assert queued == 20, log_path.read_text()[-3000:]  # batch 3 is not committed
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    stats = engine.run_period(create_session_factory(db.get_bind()), settings, PERIOD, now=h.NOW, batch_size=10)
    assert stats.resumed_after > 0  # resumed after the last committed batch
    assert stats.sent == SUBSCRIBERS - 20
    db.rollback()
    assert_exactly_once(db)
    # Running the whole period once more (for instance by hand) queues nothing.
    again = engine.run_period(create_session_factory(db.get_bind()), settings, PERIOD, now=h.NOW, batch_size=10)
    assert again.sent == 0
    db.rollback()
    assert_exactly_once(db)


def test_two_runs_racing_queue_each_digest_once(pg, db, settings) -> None:
    seed(db)
    factory = create_session_factory(db.get_bind())
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(engine.run_period(factory, settings, PERIOD, now=h.NOW, batch_size=7))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sum(r.sent for r in results) == SUBSCRIBERS
    db.rollback()
    assert_exactly_once(db)


HOLDER = textwrap.dedent(
    """
    import sys, time
    from crm.db import create_db_engine
    from crm.settings import Settings
    from jobs.lock import SchedulerLock
    lock = SchedulerLock(create_db_engine(Settings.from_env()))
    print("locked" if lock.try_acquire() else "standby", flush=True)
    time.sleep(600)
    """
)


def test_second_worker_cannot_take_the_scheduler_lock_until_the_first_dies(pg, settings) -> None:
    from crm.db import create_db_engine

    first = subprocess.Popen(
        [sys.executable, "-c", HOLDER], cwd=PROJECT_ROOT, env=_env(pg), stdout=subprocess.PIPE, text=True
    )
    engine_ = create_db_engine(settings)
    try:
        assert first.stdout.readline().strip() == "locked"
        second = SchedulerLock(engine_)
        assert second.try_acquire() is False  # a second worker is a standby and starts no scheduler
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        deadline = time.monotonic() + 20
        while not second.try_acquire():
            assert time.monotonic() < deadline, "the standby never took over"
            time.sleep(0.3)
        second.release()
    finally:
        if first.poll() is None:
            first.kill()
        engine_.dispose()
