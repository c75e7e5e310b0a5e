"""Digest runs cut into shards by subscription id (issue 21.3, crm/digests/shards.py): the ranges, planning once,
building every shard, resuming inside a shard, a lost "done" mark, two builders racing (PostgreSQL), the cheap
no-op of the shared job, the scheduler leaving a sharded run to its builders, and the admin page's progress."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select, update

from crm import models as m
from crm.db import create_session_factory
from crm.digests import engine, periods, services, shards
from crm.digests.ledger import delivered
from tests import factories
from tests.digests import helpers as h

PERIOD = periods.parse(h.WEEK)


class Crash(BaseException):
    """A worker dying between two batches (not an ``Exception``: the run is not marked failed, as with SIGKILL)."""


def seed(db, n: int, *, empty_tail: int = 0) -> list[int]:
    """``n`` active weekly subscribers who each match two calls, then ``empty_tail`` who match nothing; a paused
    and a monthly subscriber after them (their ids bound no shard). Returns the active weekly ids."""
    ts = h.topics(db)
    f = factories.funder(db)
    for i in range(4):
        h.call(db, f, topic_ids=(ts[i % 2].id,))
    ids = [h.subscription(db, topic_ids=(ts[i % 2].id,)).id for i in range(n)]
    ids += [h.subscription(db, topic_ids=(ts[5].id,)).id for _ in range(empty_tail)]
    h.subscription(db, topic_ids=(ts[0].id,), status=m.SubscriptionStatus.PAUSED)
    h.subscription(db, topic_ids=(ts[0].id,), frequency=m.Frequency.MONTHLY)
    db.commit()
    return ids


def factory(db):
    return create_session_factory(db.get_bind())


def per_subscriber(db) -> dict[int, int]:
    db.rollback()
    rows = db.execute(
        select(m.OutboxMessage.subscription_id, func.count())
        .where(m.OutboxMessage.idempotency_key.like(f"digest:%:{h.WEEK}"))
        .group_by(m.OutboxMessage.subscription_id)
    ).all()
    return dict(rows)


def assert_ledger_once(db, expected: int) -> None:
    items = delivered(db)
    assert len(items) == expected and len(set(items)) == len(items)


def assert_run_is_the_sum_of_its_shards(db, run_id: int) -> m.DigestRun:
    db.expire_all()
    run = db.get(m.DigestRun, run_id)
    assert run.status == m.DigestRunStatus.DONE and run.finished_at is not None and run.duration_ms is not None
    sums = db.execute(
        select(*(func.sum(getattr(m.DigestShard, c)) for c in shards.COUNTS)).where(m.DigestShard.run_id == run_id)
    ).one()
    assert tuple(getattr(run, c) for c in shards.COUNTS) == tuple(sums)
    return run


def test_ranges_cover_every_id_up_to_the_top_once() -> None:
    assert shards.ranges(0, 10) == []
    assert shards.ranges(7, 10) == [(1, 7)]
    assert shards.ranges(20, 10) == [(1, 10), (11, 20)]
    assert shards.ranges(21, 10) == [(1, 10), (11, 20), (21, 21)]
    assert shards.ranges(1_000_000) == [(k * 50_000 + 1, (k + 1) * 50_000) for k in range(20)]
    with pytest.raises(ValueError):
        shards.ranges(5, 0)


def test_plan_fixes_the_ranges_once_up_to_the_highest_active_id(db, settings) -> None:
    ids = seed(db, 25)
    run_id = shards.plan(factory(db), settings, PERIOD, now=h.NOW, shard_size=10)
    assert shards.plan(factory(db), settings, PERIOD, now=h.NOW, shard_size=10) == run_id  # the unfinished run
    rows = db.scalars(select(m.DigestShard).where(m.DigestShard.run_id == run_id).order_by(m.DigestShard.shard)).all()
    assert [(s.first_id, s.last_id) for s in rows] == shards.ranges(max(ids), 10)  # paused/monthly ids beyond: out
    assert {s.status for s in rows} == {m.DigestShardStatus.WAITING} and len(rows) == -(-max(ids) // 10)
    run = db.get(m.DigestRun, run_id)
    assert run.status == m.DigestRunStatus.RUNNING and run.started_at == h.NOW and not run.dry_run


def test_plan_with_nobody_to_build_for_is_done_at_once(db, settings) -> None:
    run_id = shards.plan(factory(db), settings, PERIOD, now=h.NOW)
    run = db.get(m.DigestRun, run_id)
    assert run.status == m.DigestRunStatus.DONE and run.sent == 0
    assert db.scalar(select(func.count()).select_from(m.DigestShard)) == 0


def test_build_available_builds_every_shard_and_finishes_the_run_with_their_sums(db, settings) -> None:
    ids = seed(db, 25)
    run_id = shards.plan(factory(db), settings, PERIOD, now=h.NOW, shard_size=10)
    built = shards.build_available(factory(db), settings, now=h.NOW, worker="host-a:1", batch_size=4)
    assert [s.shard for s in built] == list(range(len(built))) and built[-1].run_done
    assert not any(s.run_done for s in built[:-1])
    assert sum(s.sent for s in built) == 25 and all(s.worker == "host-a:1" for s in built)
    assert per_subscriber(db) == dict.fromkeys(ids, 1)
    assert_ledger_once(db, 25 * 2)
    run = assert_run_is_the_sum_of_its_shards(db, run_id)
    assert run.sent == 25 and run.considered == 25 and run.last_subscription_id == max(ids)
    workers = db.scalars(select(m.DigestShard.worker).where(m.DigestShard.run_id == run_id)).all()
    assert set(workers) == {"host-a:1"}
    assert shards.build_available(factory(db), settings, now=h.NOW) == []  # nothing left
    # The period again (by hand): a new run, which queues nothing.
    again = engine.run_period(factory(db), settings, PERIOD, now=h.NOW)
    assert again.run_id != run_id and again.sent == 0 and again.already_sent == 0
    assert per_subscriber(db) == dict.fromkeys(ids, 1)


def test_a_shard_taken_over_resumes_after_its_last_committed_batch(db, settings) -> None:
    ids = seed(db, 25)
    run_id = shards.plan(factory(db), settings, PERIOD, now=h.NOW, shard_size=10)
    batches = []

    def die_after_two_batches(_rows: int) -> None:
        batches.append(1)
        if len(batches) == 2:  # both batches of 3 are committed: the worker dies before the third
            raise Crash

    with pytest.raises(Crash):
        shards.build_available(
            factory(db), settings, now=h.NOW, worker="dead:1", batch_size=3, progress=die_after_two_batches
        )
    assert per_subscriber(db) == dict.fromkeys(ids[:6], 1)
    first = db.scalar(select(m.DigestShard).where(m.DigestShard.run_id == run_id, m.DigestShard.shard == 0))
    assert first.status == m.DigestShardStatus.WAITING and first.sent == 6 and first.worker == "dead:1"
    assert db.get(m.DigestRun, run_id).status == m.DigestRunStatus.RUNNING  # a dead worker does not fail the run
    built = shards.build_available(factory(db), settings, now=h.NOW, worker="alive:2", batch_size=3)
    assert built[0].shard == 0 and built[0].resumed_after == ids[5]  # after the dead worker's last commit
    assert built[0].considered == 4 and built[0].sent == 4
    assert per_subscriber(db) == dict.fromkeys(ids, 1)
    assert_ledger_once(db, 25 * 2)
    run = assert_run_is_the_sum_of_its_shards(db, run_id)
    assert run.sent == 25 and run.already_sent == 0
    db.refresh(first)
    assert first.status == m.DigestShardStatus.DONE and first.worker == "alive:2" and first.sent == 10


def test_a_lost_done_mark_costs_a_reread_of_the_tail_and_queues_nothing_twice(db, settings) -> None:
    """A shard whose last subscribers get nothing is marked done in a tiny transaction after its last batch; a
    crash just before it leaves the shard waiting: its next builder re-reads the tail only and queues nothing."""
    ids = seed(db, 6, empty_tail=4)
    run_id = shards.plan(factory(db), settings, PERIOD, now=h.NOW, shard_size=100)
    assert shards.build_available(factory(db), settings, now=h.NOW, batch_size=5)[0].sent == 6
    before = per_subscriber(db)
    # What a crash just before the done mark leaves: the counts cover the last write's batch, the tail is not done.
    S = m.DigestShard
    with db.begin_nested():
        db.execute(
            update(S).values(
                status=m.DigestShardStatus.WAITING,
                built_through=ids[5],
                considered=S.considered - 4,
                skipped_empty=S.skipped_empty - 4,
            )
        )
        db.execute(update(m.DigestRun).values(status=m.DigestRunStatus.RUNNING))
    db.commit()
    again = shards.build_available(factory(db), settings, now=h.NOW, batch_size=5)
    assert again[0].resumed_after == ids[5] and again[0].considered == 4  # the tail, not the shard
    assert again[0].sent == 0 and again[0].already_sent == 0 and again[0].skipped_empty == 4
    assert per_subscriber(db) == before == dict.fromkeys(ids[:6], 1)
    run = assert_run_is_the_sum_of_its_shards(db, run_id)
    assert (run.considered, run.sent, run.skipped_empty) == (10, 6, 4)


def test_a_takeover_counts_the_dead_builders_empty_tail_of_a_batch_once(db, settings) -> None:
    """A batch whose last subscribers had nothing new: its counts (those included) commit with its writes, after
    the ledger's last subscriber. The next builder resumes after the batch, not after the ledger."""
    ids = seed(db, 5, empty_tail=5)
    run_id = shards.plan(factory(db), settings, PERIOD, now=h.NOW, shard_size=100)
    batches: list[int] = []

    def die_after_two_batches(_rows: int) -> None:
        batches.append(1)
        if len(batches) == 2:  # [0-2] and [3-5] committed (id 5 had nothing new): dies before the third
            raise Crash

    with pytest.raises(Crash):
        shards.build_available(
            factory(db), settings, now=h.NOW, worker="dead:1", batch_size=3, progress=die_after_two_batches
        )
    shard = db.scalar(select(m.DigestShard).where(m.DigestShard.run_id == run_id))
    assert (shard.built_through, shard.considered, shard.skipped_empty) == (ids[5], 6, 1)
    built = shards.build_available(factory(db), settings, now=h.NOW, worker="alive:2", batch_size=3)
    assert built[0].resumed_after == ids[5] and built[0].considered == 4
    run = assert_run_is_the_sum_of_its_shards(db, run_id)
    assert (run.considered, run.sent, run.skipped_empty, run.already_sent) == (10, 5, 5, 0)
    assert per_subscriber(db) == dict.fromkeys(ids[:5], 1)


def test_with_nothing_waiting_the_shared_job_is_one_statement(db, settings, count_queries) -> None:
    with count_queries() as q:
        assert shards.build_available(factory(db), settings, now=h.NOW) == []
    assert q.count == 1
    seed(db, 5)
    engine.run_period(factory(db), settings, PERIOD, now=h.NOW)  # a done run and its done shards
    with count_queries() as q:
        assert shards.build_available(factory(db), settings, now=h.NOW) == []
    assert q.count == 1, q.statements


def test_the_scheduler_leaves_a_sharded_run_to_its_builders(db, settings) -> None:
    ids = seed(db, 12)
    run_id = shards.plan(factory(db), settings, PERIOD, now=h.NOW, shard_size=5)
    assert services.run_due(factory(db), settings, now=h.NOW) == []  # running, with shards: not planned again
    assert db.scalar(select(func.count()).select_from(m.DigestRun)) == 1
    shards.build_available(factory(db), settings, now=h.NOW)
    assert_run_is_the_sum_of_its_shards(db, run_id)
    assert services.run_due(factory(db), settings, now=h.NOW) == []  # done
    assert per_subscriber(db) == dict.fromkeys(ids, 1)


def test_a_run_whose_shards_are_all_done_is_finished_by_the_next_builder(db, settings) -> None:
    """A crash between a run's last shard and the run's end: whoever looks next finishes the run."""
    seed(db, 8)
    run_id = shards.plan(factory(db), settings, PERIOD, now=h.NOW, shard_size=5)
    shards.build_available(factory(db), settings, now=h.NOW)
    with db.begin_nested():
        db.execute(update(m.DigestRun).values(status=m.DigestRunStatus.RUNNING, sent=0, finished_at=None))
    db.commit()
    assert shards.build_available(factory(db), settings, now=h.NOW) == []
    assert assert_run_is_the_sum_of_its_shards(db, run_id).sent == 8


def test_the_runs_page_shows_shards_progress_and_builders(admin_client, db, settings) -> None:
    seed(db, 12)
    run_id = shards.plan(factory(db), settings, PERIOD, now=h.NOW, shard_size=5)
    with db.begin_nested():
        db.execute(
            update(m.DigestShard)
            .where(m.DigestShard.run_id == run_id, m.DigestShard.shard == 0)
            .values(status=m.DigestShardStatus.DONE, worker="host-b:42", considered=5, sent=4)
        )
    db.commit()
    page = admin_client.get("/admin/digests")
    assert page.status_code == 200
    total = db.scalar(select(func.count()).select_from(m.DigestShard))
    assert f"1 of {total} shards done" in page.text and "built by host-b:42" in page.text
    detail = admin_client.get(f"/admin/digests?run={run_id}")
    assert f"Shards of run {run_id}" in detail.text and "1–5" in detail.text and "host-b:42" in detail.text


@pytest.fixture
def pg(database):
    if database.kind != "postgres":
        pytest.skip("builders in parallel are PostgreSQL's (SQLite has one writer and builds in one process)")
    return database


def test_two_builders_racing_share_the_shards_and_queue_each_digest_once(pg, db, settings) -> None:
    ids = seed(db, 60)
    run_id = shards.plan(factory(db), settings, PERIOD, now=h.NOW, shard_size=10)
    barrier = threading.Barrier(2)
    results: dict[str, list[shards.ShardStats]] = {}
    errors: list[BaseException] = []

    def builder(name: str) -> None:
        try:
            barrier.wait()
            results[name] = shards.build_available(factory(db), settings, now=h.NOW, worker=name, batch_size=3)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=builder, args=(f"thread-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    built = [(s.shard, name) for name, stats in results.items() for s in stats]
    shard_ids = sorted(k for k, _ in built)
    assert shard_ids == list(range(len(shard_ids))) and len(shard_ids) == -(-max(ids) // 10)  # each built once
    assert per_subscriber(db) == dict.fromkeys(ids, 1)
    assert_ledger_once(db, 60 * 2)
    run = assert_run_is_the_sum_of_its_shards(db, run_id)
    assert run.sent == 60 and run.already_sent == 0
    assert sum(s.sent for stats in results.values() for s in stats) == 60
    rows = db.execute(select(m.DigestShard.shard, m.DigestShard.worker).where(m.DigestShard.run_id == run_id)).all()
    by_row = {shard: worker for shard, worker in rows}
    assert by_row == dict(built)  # each shard row names the thread that built it


def test_a_dry_run_counts_in_one_range_and_writes_only_its_run(db, settings) -> None:
    seed(db, 7, empty_tail=2)
    stats = engine.run_period(factory(db), settings, PERIOD, now=h.NOW, dry_run=True)
    assert (stats.considered, stats.sent, stats.skipped_empty) == (9, 7, 2)
    assert per_subscriber(db) == {} and db.scalar(select(func.count()).select_from(m.DigestShard)) == 0
    run = db.get(m.DigestRun, stats.run_id)
    assert run.dry_run and run.status == m.DigestRunStatus.DONE and run.sent == 7


def test_an_error_in_a_shard_fails_the_run_and_the_catch_up_plans_a_new_one(db, settings, monkeypatch) -> None:
    ids = seed(db, 6)
    run_id = shards.plan(factory(db), settings, PERIOD, now=h.NOW, shard_size=5)

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(engine, "batch_query", broken)
    with pytest.raises(RuntimeError):
        shards.build_available(factory(db), settings, now=h.NOW, worker="host-c:7")
    db.expire_all()
    failed = db.get(m.DigestRun, run_id)
    assert failed.status == m.DigestRunStatus.FAILED and "shard 0 (host-c:7): RuntimeError" in failed.error
    assert shards.build_available(factory(db), settings, now=h.NOW) == []  # a failed run's shards are taken no more
    monkeypatch.undo()
    (retry,) = services.run_due(factory(db), settings, now=h.NOW)
    assert retry.run_id != run_id and retry.sent == 6
    assert per_subscriber(db) == dict.fromkeys(ids, 1)


def test_the_shared_job_leaves_a_run_too_late_to_send_and_a_run_by_hand_resumes_it(db, settings) -> None:
    ids = seed(db, 6)
    run_id = shards.plan(factory(db), settings, PERIOD, now=h.NOW, shard_size=5)
    days_later = PERIOD.due_at + periods.MAX_LATENESS + dt.timedelta(minutes=1)
    assert shards.build_available(factory(db), settings, now=days_later) == []  # workers back after days: no send
    assert per_subscriber(db) == {} and db.get(m.DigestRun, run_id).status == m.DigestRunStatus.RUNNING
    by_hand = engine.run_period(factory(db), settings, PERIOD, now=days_later)
    assert by_hand.run_id == run_id and by_hand.sent == 6
    assert per_subscriber(db) == dict.fromkeys(ids, 1)
