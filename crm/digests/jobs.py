"""Digest jobs: Monday 08:00 Europe/London (named weekday), a catch-up tick after downtime, and the shared build.

``digests.monday`` and ``digests.catch_up`` (the leader) call ``crm.digests.services.run_due``: plan the latest due
period of each frequency (skipping one more than three days late) and build what this worker can.
``digests.build_shards`` (``shared=True``: every worker on PostgreSQL, the leader too) builds the waiting shards of
running runs, so other workers join a run within ``BUILD_EVERY`` and take over a dead worker's shard (its lock is
gone with its session). With nothing waiting it is one cheap statement.
"""

from __future__ import annotations

import datetime as dt
import logging

from crm.digests import services, shards
from crm.runtime import Runtime
from crm.scheduling import ScheduledJob, cron, every

log = logging.getLogger("crm.jobs.digests")

BUILD_EVERY = dt.timedelta(seconds=10)


def run_due_digests(rt: Runtime, now: dt.datetime | None = None, trigger: str = "schedule") -> list:
    results = services.run_due(rt.session_factory, rt.settings, now=now, trigger=trigger)
    for stats in results:
        log.info("digests: %s", stats.line())
    return results


def build_shards(rt: Runtime) -> list[shards.ShardStats]:
    built = shards.build_available(rt.session_factory, rt.settings)
    for s in built:
        log.info(
            "digests: run %s shard %s (ids %s-%s) built by %s: considered %s, queued %s%s",
            s.run_id,
            s.shard,
            s.first_id,
            s.last_id,
            s.worker,
            s.considered,
            s.sent,
            " (run done)" if s.run_done else "",
        )
    return built


JOBS = (
    # Weekly periods and the monthly one (first Monday) are both due on a Monday at 08:00 London time.
    ScheduledJob(
        "digests.monday",
        "Queue the weekly (and first-Monday monthly) digests",
        run_due_digests,
        cron(day_of_week="mon", hour=8, minute=0),
    ),
    # After downtime: the latest due period (if at most 3 days late) is run at start and checked every 10 min.
    ScheduledJob(
        "digests.catch_up",
        "Catch up on a digest period missed while the worker was down",
        run_due_digests,
        every(minutes=10),
        kwargs={"trigger": "catch-up"},
        first_run_after=dt.timedelta(seconds=30),
    ),
    # Every worker (PostgreSQL) builds waiting shards beside the leader: shards by subscription id, a lock each.
    ScheduledJob(
        "digests.build_shards",
        "Build waiting digest shards (shared by workers)",
        build_shards,
        every(seconds=BUILD_EVERY.seconds),
        first_run_after=dt.timedelta(seconds=3),
        shared=True,
    ),
)
