"""Digest jobs: Monday 08:00 Europe/London (named weekday), plus a catch-up tick after downtime.

Both call ``crm.digests.services.run_due``, which runs only the latest due period of each frequency, skips
one more than three days late, and is safe if two workers call it at once (outbox keys + delivery ledger).
"""

from __future__ import annotations

import datetime as dt
import logging

from crm.digests import services
from crm.runtime import Runtime
from crm.scheduling import ScheduledJob, cron, every

log = logging.getLogger("crm.jobs.digests")


def run_due_digests(rt: Runtime, now: dt.datetime | None = None, trigger: str = "schedule") -> list:
    results = services.run_due(rt.session_factory, rt.settings, now=now, trigger=trigger)
    for stats in results:
        log.info("digests: %s", stats.line())
    return results


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
)
