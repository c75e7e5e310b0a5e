"""Periods in Europe/London wall-clock time, the scheduler's jobs, and catch-up after downtime."""

from __future__ import annotations

import datetime as dt

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from crm import models as m
from crm.digests import jobs as digest_jobs
from crm.digests import periods, services
from crm.runtime import Runtime
from jobs.worker import register_jobs
from tests import factories
from tests.digests import helpers as h

UTC = dt.UTC


def test_weekly_period_is_monday_0800_london_in_summer_and_winter() -> None:
    winter = periods.parse("2026-W48")
    assert winter.frequency == "weekly"
    assert winter.due_at == dt.datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # GMT: 08:00Z
    summer = periods.parse("2026-W27")
    assert summer.due_at == dt.datetime(2026, 6, 29, 7, 0, tzinfo=UTC)  # BST: 07:00Z
    assert periods.weekly_period(dt.date(2026, 11, 29)).key == "2026-W48"


def test_monthly_period_is_the_first_monday() -> None:
    dec = periods.parse("2026-12")
    assert dec.frequency == "monthly"
    assert dec.due_at == dt.datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    assert periods.parse("2026-06").due_at == dt.datetime(2026, 6, 1, 7, 0, tzinfo=UTC)
    assert dec.next().key == "2027-01"


def test_bad_period_names_are_refused_plainly() -> None:
    for bad in ("2026-W60", "2026-13", "next week", ""):
        try:
            periods.parse(bad)
        except periods.PeriodError as exc:
            assert str(exc)
        else:
            raise AssertionError(bad)


def test_after_downtime_only_the_latest_period_and_never_one_more_than_3_days_late() -> None:
    # The worker was down from W46 to Wednesday of W48: only W48 is due (2 days late).
    now = dt.datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert [p.key for p in periods.due_periods(now)] == ["2026-W48"]
    # Friday: W48 is 4 days late, so it is skipped; the monthly 2026-11 (2 Nov) is long past too.
    friday = dt.datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert periods.due_periods(friday) == []
    # Monday 7 December 09:00: the weekly W50 and the monthly 2026-12 are both due.
    monday = dt.datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    assert [p.key for p in periods.due_periods(monday)] == ["2026-W50", "2026-12"]
    # One minute before 08:00 London on that Monday the previous week's period is the latest.
    before = dt.datetime(2026, 12, 7, 7, 59, tzinfo=UTC)
    assert periods.latest_due("weekly", before).key == "2026-W49"


def test_jobs_have_explicit_ids_and_named_weekdays_in_london_time(settings) -> None:
    scheduler = BackgroundScheduler(timezone="Europe/London")
    register_jobs(scheduler, Runtime(settings), digest_jobs.JOBS)
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert set(jobs) == {"digests.monday", "digests.catch_up", "digests.build_shards"}
    # Only the shard build is shared by workers; planning a run stays with the leader.
    assert [j.id for j in digest_jobs.JOBS if j.shared] == ["digests.build_shards"]
    trigger = jobs["digests.monday"].trigger
    assert "day_of_week='mon'" in str(trigger)
    # Next fire after a summer Sunday is Monday 07:00Z; after a winter Sunday Monday 08:00Z.
    summer = trigger.get_next_fire_time(None, dt.datetime(2026, 6, 28, 12, 0, tzinfo=UTC))
    winter = trigger.get_next_fire_time(None, dt.datetime(2026, 11, 22, 12, 0, tzinfo=UTC))
    assert summer.astimezone(UTC) == dt.datetime(2026, 6, 29, 7, 0, tzinfo=UTC)
    assert winter.astimezone(UTC) == dt.datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    # DST switch weekend (29 March 2026): Monday 30 March 08:00 BST = 07:00Z.
    spring = trigger.get_next_fire_time(None, dt.datetime(2026, 3, 28, 12, 0, tzinfo=UTC))
    assert spring.astimezone(UTC) == dt.datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_every_registered_job_has_an_explicit_id(settings) -> None:
    from jobs.worker import build_scheduler

    scheduler = build_scheduler(Runtime(settings), background=True)
    ids = [j.id for j in scheduler.get_jobs()]
    assert ids and all("." in i for i in ids)
    assert "digests.monday" in ids
    assert not scheduler.running


def test_run_due_after_downtime_queues_only_the_latest_period_once(db, settings) -> None:
    ts = h.topics(db)
    funder = factories.funder(db)
    h.call(db, funder, topic_ids=(ts[0].id,), published_at=h.NOW - dt.timedelta(days=20))
    h.subscription(db, topic_ids=(ts[0].id,))
    db.commit()
    factory = _factory(db)
    results = services.run_due(factory, settings, now=h.NOW)
    assert [r.period for r in results] == ["2026-W48"]
    assert results[0].sent == 1
    # A second tick (or a second worker) finds the period done and does nothing.
    assert services.run_due(factory, settings, now=h.NOW + dt.timedelta(minutes=10)) == []
    keys = db.scalars(select(m.OutboxMessage.idempotency_key)).all()
    assert keys == [f"digest:{db.scalar(select(m.Subscription.id))}:2026-W48"]
    # Friday of the same week: W48 is more than 3 days late; nothing new is due.
    assert services.run_due(factory, settings, now=dt.datetime(2026, 11, 27, 12, tzinfo=UTC)) == []


def _factory(db):
    from crm.db import create_session_factory

    return create_session_factory(db.get_bind())
