"""Partnership jobs: a weekly email to the fellow (every admin) about partnerships that need attention."""

from __future__ import annotations

import datetime as dt
import logging

from apscheduler.schedulers.base import BaseScheduler

from crm.db import unit_of_work
from crm.partnerships.services import send_weekly_nudge
from jobs.context import WorkerContext

log = logging.getLogger("crm.jobs.partnerships")


def weekly_nudge(ctx: WorkerContext, now: dt.datetime | None = None) -> int:
    now = now or dt.datetime.now(dt.UTC)
    with unit_of_work(ctx.session_factory) as session:
        queued = send_weekly_nudge(session, ctx.renderer, ctx.settings, now=now)
    if queued:
        log.info("partnership nudge queued for %s admin(s)", queued)
    return queued


def register(scheduler: BaseScheduler, ctx: WorkerContext) -> None:
    scheduler.add_job(
        weekly_nudge,
        "cron",
        day_of_week="mon",
        hour=8,
        minute=30,
        timezone="Europe/London",
        args=[ctx],
        id="partnerships.weekly_nudge",
        name="Weekly partnership nudge to the fellow",
        coalesce=True,
        max_instances=1,
        replace_existing=True,
    )
