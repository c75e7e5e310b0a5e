"""Privacy and reporting jobs: the weekly retention run and the monthly summary email to the fellow(s)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from apscheduler.schedulers.base import BaseScheduler

from crm.dashboard.reports import send_monthly_summary
from crm.db import unit_of_work
from crm.privacy import retention
from jobs.context import WorkerContext

log = logging.getLogger("crm.jobs.privacy")


def run_retention(ctx: WorkerContext, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or dt.datetime.now(dt.UTC)
    with unit_of_work(ctx.session_factory) as session:
        result = retention.run(session, now=now, settings=ctx.settings)
    counts = {"subscriptions": result["subscriptions"], "contacts": result["contacts"]}
    if any(counts.values()):
        log.info("retention: anonymised %s", counts)
    return counts


def monthly_summary(ctx: WorkerContext, now: dt.datetime | None = None) -> int:
    now = now or dt.datetime.now(dt.UTC)
    with unit_of_work(ctx.session_factory) as session:
        queued = send_monthly_summary(session, ctx.renderer, ctx.settings, now=now)
    log.info("monthly summary: %s email(s) queued", queued)
    return queued


def register(scheduler: BaseScheduler, ctx: WorkerContext) -> None:
    scheduler.add_job(
        run_retention,
        "cron",
        day_of_week="sun",
        hour=3,
        minute=30,
        timezone="Europe/London",
        args=[ctx],
        id="privacy.retention",
        name="Anonymise unconfirmed subscriptions and long-idle contacts",
        coalesce=True,
        max_instances=1,
        replace_existing=True,
    )
    scheduler.add_job(
        monthly_summary,
        "cron",
        day=1,
        hour=8,
        minute=0,
        timezone="Europe/London",
        args=[ctx],
        id="dashboard.monthly_summary",
        name="Email last month's impact summary to the fellow(s)",
        coalesce=True,
        max_instances=1,
        replace_existing=True,
    )
