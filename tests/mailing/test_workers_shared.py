"""Issue 21, "Work shared by workers": on PostgreSQL every ``crm worker`` dispatches the outbox, one leads.

The process test starts two real ``crm worker`` processes on one PostgreSQL database, each sending through its own
fake SendGrid (a process of its own, recording every personalization received in full), so what each worker sent is
known. A few thousand bulk emails are queued; once both workers have had requests answered, one is killed with
SIGKILL while its requests are in flight and the other finishes. The clock cannot be moved in other processes, so
the test moves the rows instead: past the lease (what the dead worker held is settled by the survivor) and past the
wait for a provider event. Two trials:

(a) the leader is killed, the signed webhook's ``processed`` events are processed: the survivor takes over the
    scheduler and every recipient has exactly one email;
(b) a newly started worker (doing shared work) is killed, no webhook: nobody is lost and the duplicates are exactly
    the messages of the dead worker's requests that reached the provider unrecorded, at most
    ``CONCURRENCY`` requests of 1,000 (docs/mailing.md, "Crash-safe settlement").

SQLite keeps one writer: the cheap tests below show the second worker stays a standby there.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm import models as m
from crm.domains import EXTENSIONS
from crm.mailing import webhooks
from crm.mailing.transports.sendgrid import MAX_PERSONALIZATIONS
from crm.runtime import Runtime
from jobs.lock import SchedulerLock, hold_scheduler_lock
from jobs.worker import shared_jobs
from tests.conftest import Database
from tests.mailing.fake_sendgrid import processed_events
from tests.mailing.test_crash_trials import Fake, _queue

ROOT = Path(__file__).resolve().parents[2]
CONCURRENCY = 2
BOUND = CONCURRENCY * MAX_PERSONALIZATIONS  # the most messages a worker's requests in flight can hold
N = 8000  # 8 requests of 1,000: each worker holds at most 3 claims (2 in flight, 1 prepared), so both get some
LATENCY = "1.0-2.0"  # seconds per request: the run lasts long enough to kill a worker in the middle of it


def test_only_postgresql_shares_the_outbox_dispatch(database: Database) -> None:
    rt = Runtime(database.settings, EXTENSIONS)
    try:
        expected = ["mail.dispatch_outbox", "digests.build_shards"] if database.kind == "postgres" else []
        assert [job.id for job in shared_jobs(rt)] == expected
    finally:
        rt.engine.dispose()


def test_a_worker_that_finds_the_lock_held_says_so_once_then_takes_over(database: Database) -> None:
    """``on_wait`` (where a worker starts its shared work or announces a standby) runs once, then the lock is taken
    as soon as the holder lets go."""
    holder = SchedulerLock(database.engine)
    assert holder.try_acquire()
    waits: list[float] = []
    got: list[bool] = []

    def second_worker() -> None:
        with hold_scheduler_lock(database.engine, poll_seconds=0.05, on_wait=lambda: waits.append(1.0)) as active:
            got.append(active)

    thread = threading.Thread(target=second_worker)
    thread.start()
    time.sleep(0.5)
    assert got == [] and waits == [1.0]  # waiting, announced once in ten polls
    holder.release()
    thread.join(10)
    assert got == [True] and waits == [1.0]


class Worker:
    """One ``crm worker`` process sending through its own fake SendGrid; its output kept in a log file."""

    def __init__(self, name: str, database: Database, fake: Fake, log: Path) -> None:
        self.name, self.fake, self.log = name, fake, log
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
        env.update(
            CRM_ENV="test",
            CRM_DATABASE_URL=database.url,
            CRM_SECRET_KEY="shared-workers-test-secret-0123456789-abcdef",
            CRM_MAIL_TRANSPORT="sendgrid",
            CRM_SENDGRID_API_KEY="SG.shared-workers",
            CRM_SENDGRID_API_URL=fake.url,
            CRM_SENDGRID_CONCURRENCY=str(CONCURRENCY),
            CRM_SENDGRID_TIMEOUT="10",
            CRM_MAIL_RATE_PER_SECOND="0",
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

    def wait_for(self, text: str, timeout: float = 120) -> None:
        _until(lambda: text in self.output(), timeout, f"worker {self.name} never logged {text!r}", self)

    def stop(self) -> None:
        if self.proc.poll() is None:  # only our own child, by its handle
            self.proc.kill()
        self.proc.wait(timeout=20)


def _until(done: Callable[[], bool], timeout: float, why: str, *workers: Worker) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- worker {w.name}:\n{w.output()[-4000:]}" for w in workers)
            pytest.fail(f"{why} within {timeout} s\n{logs}")
        time.sleep(0.1)


def _statuses(database: Database, ids: set[int] | None) -> dict[int, str]:
    """Each outbox row's status (of ``ids``, or all)."""
    with database.engine.connect() as conn:
        rows = conn.execute(select(m.OutboxMessage.id, m.OutboxMessage.status))
        return {i: status for i, status in rows if ids is None or i in ids}


def _move_rows(database: Database, ids: set[int], status: m.OutboxStatus, **values: Any) -> None:
    """What the clock would do: the workers are other processes, so the rows are moved into the past instead."""
    with database.engine.begin() as conn:
        conn.execute(
            update(m.OutboxMessage)
            .where(m.OutboxMessage.id.in_(ids), m.OutboxMessage.status == status)
            .values(**values)
        )


@pytest.fixture
def pair(database: Database, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Two fakes and the leader on the first; the test starts the others. Everything stopped by its own handle."""
    if database.kind != "postgres":
        pytest.skip("SQLite has one writer: a second worker only waits as a standby (no shared work to test)")
    database.isolation.reset()
    fakes = [Fake(), Fake()]
    workers: list[Worker] = []
    try:
        yield {"fakes": fakes, "workers": workers, "logs": tmp_path}
    finally:
        for worker in workers:
            worker.stop()
        for fake in fakes:
            fake.close()
        database.isolation.reset()


def _trial(database: Database, fakes: list[Fake], victim: Worker, survivor: Worker, trial: int, hook: bool) -> str:
    """Queue ``N`` emails, kill ``victim`` mid-run, let ``survivor`` finish; check per recipient; a figures line."""
    where = f"trial {trial} ({'with' if hook else 'without'} the webhook; worker {victim.name} killed)"
    starts = {id(f): f.total() for f in fakes}
    before = set(_statuses(database, None))
    ids = set(_queue(database.engine, N, 100 + trial, dt.datetime.now(dt.UTC))) - before
    assert len(ids) == N

    def both_sent_and_victim_busy() -> bool:
        done = all(f.total() - starts[id(f)] >= MAX_PERSONALIZATIONS for f in (victim.fake, survivor.fake))
        return done and victim.fake.records(10**9)["active"] > 0

    # Both have had at least one request received in full, and the victim has requests in flight: kill it.
    _until(both_sent_and_victim_busy, 120, f"both workers never sent while the victim was busy: {where}", victim)
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait(timeout=20)
    by_victim = victim.fake.received_since(starts[id(victim.fake)])
    by_survivor_before = survivor.fake.total() - starts[id(survivor.fake)]
    assert by_victim and by_survivor_before, f"work was not shared: {where}"

    def only_dead_claims_left() -> bool:
        waiting = {m.OutboxStatus.QUEUED, m.OutboxStatus.RETRY} & set(_statuses(database, ids).values())
        return not waiting and survivor.fake.records(10**9)["active"] == 0

    # The survivor sends everything else; the dead worker's claims stay "sending" until their lease runs out.
    _until(only_dead_claims_left, 180, f"the survivor did not send the rest: {where}", survivor)
    time.sleep(2.5)  # the survivor's last report is written: what is still "sending" is the dead worker's
    unrecorded = {i for i, s in _statuses(database, ids).items() if s == m.OutboxStatus.SENDING}
    in_flight = {request for i, _, request in by_victim if i in unrecorded}
    assert len(in_flight) <= CONCURRENCY, f"{len(in_flight)} requests of the dead worker unrecorded: {where}"
    expected_dups = {i for i, _, _ in by_victim} & unrecorded
    if hook:  # the signed webhook's batch for what reached SendGrid, through the endpoint's parser
        events = processed_events(by_victim + survivor.fake.received_since(starts[id(survivor.fake)]))
        with Session(database.engine) as session:
            webhooks.process_events(session, webhooks.parse_events(json.dumps(events).encode()))
            session.commit()
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    _move_rows(database, ids, m.OutboxStatus.SENDING, lease_until=past)  # past the lease: the survivor settles
    _until(
        lambda: m.OutboxStatus.SENDING not in set(_statuses(database, ids).values()),
        120,
        f"the survivor never settled the dead worker's claims: {where}",
        survivor,
    )
    _move_rows(database, ids, m.OutboxStatus.AMBIGUOUS, next_attempt_at=past)  # past the wait for an event
    _until(
        lambda: set(_statuses(database, ids).values()) == {m.OutboxStatus.SENT},
        120,
        f"not every row ended sent: {where}",
        survivor,
    )
    # Both fakes: a recipient sent by each worker counts twice.
    received = [r for f in fakes for r in f.received_since(starts[id(f)]) if r[0] in ids]
    per_recipient = Counter(email for _, email, _ in received)
    lost = N - len(per_recipient)
    dups = sum(c - 1 for c in per_recipient.values())
    assert lost == 0, f"{lost} recipients lost: {where}"
    if hook:
        assert dups == 0, f"{dups} duplicates with the webhook: {where}"
    else:
        assert dups == len(expected_dups) <= BOUND, f"{dups} duplicates without the webhook: {where}"
    return (
        f"trial {trial}: {N} emails; before the kill the victim's fake had received {len(by_victim)}, the "
        f"survivor's {by_survivor_before}; unrecorded at the kill {len(unrecorded)} ({len(in_flight)} requests in "
        f"flight); duplicates {dups} ({'with' if hook else 'without'} the webhook)"
    )


@pytest.mark.timeout(480)
def test_two_workers_share_the_dispatch_and_a_killed_one_loses_nothing(database: Database, pair: dict[str, Any]):
    fakes: list[Fake] = pair["fakes"]
    workers: list[Worker] = pair["workers"]
    workers.append(Worker("a", database, fakes[0], pair["logs"] / "worker-a.log"))
    workers[0].wait_for("worker role: leader")
    workers.append(Worker("b", database, fakes[1], pair["logs"] / "worker-b.log"))
    workers[1].wait_for("worker role: shared work (mail.dispatch_outbox every interval[0:00:01]")
    a, b = workers
    figures = [_trial(database, fakes, victim=a, survivor=b, trial=1, hook=True)]
    b.wait_for("worker role: leader", timeout=30)  # the survivor took over the scheduler
    # A newly started worker joins the survivor (now the leader) on the dead one's fake; it is killed in turn.
    workers.append(Worker("c", database, fakes[0], pair["logs"] / "worker-c.log"))
    workers[2].wait_for("worker role: shared work")
    figures.append(_trial(database, fakes, victim=workers[2], survivor=b, trial=2, hook=False))
    print("\nshared workers (postgres):\n" + "\n".join(figures))
