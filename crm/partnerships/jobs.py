"""Partnership jobs: a weekly email to the fellow (every admin) about partnerships that need attention."""

from __future__ import annotations

import datetime as dt
import logging

from crm.db import unit_of_work
from crm.partnerships.nudges import send_weekly_nudge
from crm.runtime import Runtime
from crm.scheduling import ScheduledJob, cron

log = logging.getLogger("crm.jobs.partnerships")


def weekly_nudge(rt: Runtime, now: dt.datetime | None = None) -> int:
    now = now or dt.datetime.now(dt.UTC)
    with unit_of_work(rt.session_factory) as session:
        queued = send_weekly_nudge(session, rt.renderer, rt.settings, now=now)
    if queued:
        log.info("partnership nudge queued for %s admin(s)", queued)
    return queued


JOBS = (
    ScheduledJob(
        "partnerships.weekly_nudge",
        "Weekly partnership nudge to the fellow",
        weekly_nudge,
        cron(day_of_week="mon", hour=8, minute=30),
    ),
)
