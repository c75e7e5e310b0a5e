"""Dashboard job: the monthly impact summary email to the fellow(s)."""

from __future__ import annotations

import datetime as dt
import logging

from crm.dashboard.reports import send_monthly_summary
from crm.db import unit_of_work
from crm.runtime import Runtime
from crm.scheduling import ScheduledJob, cron

log = logging.getLogger("crm.jobs.dashboard")


def monthly_summary(rt: Runtime, now: dt.datetime | None = None) -> int:
    now = now or dt.datetime.now(dt.UTC)
    with unit_of_work(rt.session_factory) as session:
        queued = send_monthly_summary(session, rt.renderer, rt.settings, now=now)
    log.info("monthly summary: %s email(s) queued", queued)
    return queued


JOBS = (
    ScheduledJob(
        "dashboard.monthly_summary",
        "Email last month's impact summary to the fellow(s)",
        monthly_summary,
        cron(day=1, hour=8, minute=0),
    ),
)
