"""The leader knows it still leads (issue 21.3, ``jobs.lock`` and ``jobs.worker``).

On PostgreSQL the scheduler lock is an advisory lock of one session: cut that connection and the server frees the
lock while the holder lives. The process test starts two real ``crm worker`` processes, terminates the leader's
lock connection with ``pg_terminate_backend`` (found in ``pg_locks`` by the advisory key, in this test's database
only) and reads both logs: the old leader steps down, then does the shared work; the other leads; and by the log
timestamps the old leader had stepped down before the new one called itself leader. The unit tests check the
check itself (a cut connection, an unlocked key, a file lock that cannot be lost), stepping down (no new runs,
the run in progress finished first), the takeover grace, and the embedded worker of ``crm run``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine, text

from jobs import lock as lock_module
from jobs.lock import ADVISORY_KEY, APPLICATION_NAME, SchedulerLock
from jobs.worker import lead, settle, start_background_worker
from tests.conftest import TEST_SECRET, Database

ROOT = Path(__file__).resolve().parents[2]
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def _holder_pid(engine: Engine) -> int | None:
    """The backend holding the scheduler lock in this database (advisory locks are per database)."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' "
                "AND l.granted AND l.classid::bigint = :hi AND l.objid::bigint = :lo AND l.objsubid = 1 "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND a.application_name = :app"
            ),
            {"hi": (ADVISORY_KEY >> 32) & 0xFFFFFFFF, "lo": ADVISORY_KEY & 0xFFFFFFFF, "app": APPLICATION_NAME},
        ).scalar()


def _terminate(engine: Engine, pid: int) -> None:
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar() is True


def test_the_holder_sees_its_lock_and_sees_it_lost(database: Database) -> None:
    holder = SchedulerLock(database.engine)
    assert holder.try_acquire()
    try:
        assert holder.still_held()
        if database.kind == "sqlite":
            assert not holder.can_be_lost  # flock: held while this process keeps the file open
            assert not SchedulerLock(database.engine).try_acquire()
            return
        assert holder.can_be_lost
        pid = _holder_pid(database.engine)
        assert pid is not None
        _terminate(database.engine, pid)  # what a PostgreSQL restart or a network cut does to the session
        assert not holder.still_held()
        other = SchedulerLock(database.engine)
        assert other.try_acquire()  # the server freed it: without the check there would be two leaders
        other.release()
    finally:
        holder.release()
    assert not holder.still_held()


def test_the_check_reads_the_lock_not_just_the_connection(database: Database) -> None:
    if database.kind != "postgres":
        pytest.skip("PostgreSQL only: a file lock has no session to ask")
    holder = SchedulerLock(database.engine)
    assert holder.try_acquire()
    try:
        assert holder._conn is not None
        holder._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
        holder._conn.commit()
        assert holder._conn.execute(text("SELECT 1")).scalar() == 1  # the connection is fine...
        assert not holder.still_held()  # ...but the key is no longer this backend's
    finally:
        holder.release()


class FakeLock:
    """A lock that is lost when the test says so; records its release."""

    def __init__(self, can_be_lost: bool = True) -> None:
        self.can_be_lost = can_be_lost
        self.held = threading.Event()
        self.held.set()
        self.released = False

    def still_held(self) -> bool:
        return self.held.is_set()

    def release(self) -> None:
        self.released = True


def test_a_leader_that_loses_its_lock_steps_down_at_once_and_finishes_the_run_in_progress(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="crm.worker")
    runs: list[float] = []
    slow_started, slow_finished = threading.Event(), threading.Event()

    def slow() -> None:
        slow_started.set()
        time.sleep(0.5)
        slow_finished.set()

    scheduler = BackgroundScheduler()
    scheduler.add_job(lambda: runs.append(time.monotonic()), "interval", seconds=0.05, id="often")
    scheduler.add_job(slow, "date", id="slow")  # runs once, at start
    fake = FakeLock()
    result: list[str] = []

    def leader() -> None:
        lead(fake, scheduler, check_seconds=0.02)  # type: ignore[arg-type]
        result.append("returned")

    thread = threading.Thread(target=leader)
    thread.start()
    assert slow_started.wait(10)
    fake.held.clear()  # the lock is lost while a run is in progress
    thread.join(10)
    assert result == ["returned"] and fake.released
    assert slow_finished.is_set()  # lead() returned only once the run in progress had finished
    messages = [r.getMessage() for r in caplog.records if r.name == "crm.worker"]
    assert any(
        r.levelno == logging.ERROR and "scheduler lock lost: stepping down" in r.getMessage() for r in caplog.records
    )
    assert messages.index(next(m for m in messages if "stepping down" in m)) < messages.index(
        next(m for m in messages if m.startswith("stepped down"))
    )
    count = len(runs)
    time.sleep(0.3)  # six intervals of the frequent job
    assert len(runs) == count  # no run started after stepping down
    assert not scheduler.running


def test_a_taken_lock_is_led_only_after_the_grace_and_only_if_still_held(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="crm.worker")
    assert settle(FakeLock(can_be_lost=False), grace_seconds=3600)  # type: ignore[arg-type]  # SQLite: no wait
    kept = FakeLock()
    assert settle(kept, grace_seconds=0.01) and not kept.released  # type: ignore[arg-type]
    lost = FakeLock()
    lost.held.clear()
    assert not settle(lost, grace_seconds=0.01) and lost.released  # type: ignore[arg-type]
    # The grace covers a holder's check interval and one check's timeout: it has stepped down by then.
    assert lock_module.TAKEOVER_GRACE_SECONDS > lock_module.CHECK_SECONDS + lock_module.CHECK_TIMEOUT_SECONDS


def _wait_for(done: Callable[[], bool], timeout: float, why: str) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"{why} within {timeout} s")
        time.sleep(0.05)


@pytest.mark.timeout(120)
def test_the_embedded_worker_steps_down_and_leads_again(database: Database, caplog: pytest.LogCaptureFixture) -> None:
    """``crm run``'s in-process scheduler: after its lock connection is cut it steps down, then (nobody else
    holding the lock: its database came back) takes the lock again and leads."""
    caplog.set_level(logging.INFO, logger="crm.worker")
    database.isolation.reset()
    stop = threading.Event()
    thread = start_background_worker(database.settings, stop)

    def said(text_: str) -> int:
        return sum(text_ in r.getMessage() for r in caplog.records if r.name == "crm.worker")

    try:
        _wait_for(lambda: said("in-process scheduler: leader") == 1, 60, "the embedded worker never led")
        if database.kind == "postgres":
            pid = _holder_pid(database.engine)
            assert pid is not None
            _terminate(database.engine, pid)
            _wait_for(lambda: said("scheduler lock lost: stepping down") == 1, 30, "it never stepped down")
            _wait_for(lambda: said("in-process scheduler: leader") == 2, 60, "it never led again")
            assert _holder_pid(database.engine) not in (None, pid)
    finally:
        stop.set()
        thread.join(30)
        database.isolation.reset()
    assert not thread.is_alive()
    if database.kind == "postgres":
        assert _holder_pid(database.engine) is None  # stopping let go of the lock


# --- two real worker processes -------------------------------------------------------------------------------


class Worker:
    """One ``crm worker`` process, its output in a log file; stopped by its own handle."""

    def __init__(self, name: str, database: Database, log: Path) -> None:
        self.name, self.log = name, log
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
        env.update(
            CRM_ENV="test",
            CRM_DATABASE_URL=database.url,
            CRM_SECRET_KEY=TEST_SECRET,
            CRM_MAIL_TRANSPORT="local",
            CRM_DISPATCH_INTERVAL_SECONDS="1",
            PYTHONUNBUFFERED="1",
            PYTHONPATH=str(ROOT),
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crm.cli", "worker"],
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )

    def output(self) -> str:
        return self.log.read_text()

    def first(self, text_: str, after: dt.datetime | None = None) -> dt.datetime | None:
        """When the log first says ``text_`` (after ``after``), by its own timestamp."""
        for line in self.output().splitlines():
            found = STAMP.match(line)
            if found and text_ in line:
                at = dt.datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f")
                if after is None or at > after:
                    return at
        return None

    def wait_for(self, text_: str, timeout: float, *others: Worker, after: dt.datetime | None = None) -> dt.datetime:
        deadline = time.monotonic() + timeout
        while (at := self.first(text_, after)) is None:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                logs = "\n".join(f"--- worker {w.name}:\n{w.output()[-4000:]}" for w in (self, *others))
                pytest.fail(f"worker {self.name} never logged {text_!r} within {timeout} s\n{logs}")
            time.sleep(0.1)
        return at

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=20)


@pytest.fixture
def workers(database: Database) -> Iterator[list[Worker]]:
    if database.kind != "postgres":
        pytest.skip("SQLite's file lock cannot be lost while its process lives: nothing to step down from")
    database.isolation.reset()
    started: list[Worker] = []
    try:
        yield started
    finally:
        for worker in started:
            worker.stop()
        database.isolation.reset()


@pytest.mark.timeout(240)
def test_a_leader_whose_lock_connection_is_cut_steps_down_before_another_leads(
    database: Database, workers: list[Worker], tmp_path: Path
) -> None:
    a = Worker("a", database, tmp_path / "worker-a.log")
    workers.append(a)
    a_leads = a.wait_for("worker role: leader", 120)
    b = Worker("b", database, tmp_path / "worker-b.log")
    workers.append(b)
    b.wait_for("worker role: shared work", 120, a)
    pid = _holder_pid(database.engine)
    assert pid is not None
    _terminate(database.engine, pid)
    cut = dt.datetime.now()
    a_steps_down = a.wait_for("scheduler lock lost: stepping down", 30, b)
    a.wait_for("stepped down: runs in progress finished", 60, b)
    b_leads = b.wait_for("worker role: leader", 60, a)
    a.wait_for("worker role: shared work", 60, b, after=a_steps_down)  # back to the work of a non-leader
    # Leadership by the logs: a led from a_leads until it stepped down, b from b_leads on. Never both.
    assert a_leads < a_steps_down < b_leads
    assert a.first("worker role: leader", after=a_leads) is None  # a did not lead again
    assert _holder_pid(database.engine) not in (None, pid)
    print(
        f"\nleader lock: connection cut at {cut:%H:%M:%S.%f}; the old leader stepped down "
        f"{(a_steps_down - cut).total_seconds():+.2f} s later, the new one led {(b_leads - cut).total_seconds():+.2f} s "
        f"later ({(b_leads - a_steps_down).total_seconds():.2f} s after the step-down)"
    )
