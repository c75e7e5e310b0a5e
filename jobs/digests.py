"""Digest jobs: Monday 08:00 Europe/London (named weekday), plus a catch-up tick after downtime.

Both call ``crm.digests.services.run_due``, which runs only the latest due period of each frequency, skips
one more than three days late, and is safe if two workers call it at once (outbox keys + delivery ledger).
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crm.digests import services
from jobs.context import WorkerContext

log = logging.getLogger("crm.jobs.digests")

LONDON = ZoneInfo("Europe/London")


def weekly_trigger() -> CronTrigger:
    return CronTrigger(day_of_week="mon", hour=8, minute=0, timezone=LONDON)


def run_due_digests(ctx: WorkerContext, now: dt.datetime | None = None, trigger: str = "schedule") -> list:
    results = services.run_due(ctx.session_factory, ctx.settings, now=now, trigger=trigger)
    for stats in results:
        log.info("digests: %s", stats.line())
    return results


def register(scheduler: BaseScheduler, ctx: WorkerContext) -> None:
    # Weekly periods and the monthly one (first Monday) are both due on a Monday at 08:00 London time.
    scheduler.add_job(
        run_due_digests,
        weekly_trigger(),
        args=[ctx],
        id="digests.monday",
        name="Queue the weekly (and first-Monday monthly) digests",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=3600,
        replace_existing=True,
    )
    # After downtime: the latest due period (if at most 3 days late) is run at start and checked every 10 min.
    scheduler.add_job(
        run_due_digests,
        IntervalTrigger(minutes=10, timezone=LONDON),
        args=[ctx],
        kwargs={"trigger": "catch-up"},
        id="digests.catch_up",
        name="Catch up on a digest period missed while the worker was down",
        coalesce=True,
        max_instances=1,
        next_run_time=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30),
        replace_existing=True,
    )
