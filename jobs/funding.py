"""Funding jobs: every hour, advance stored next deadlines and close published calls whose last deadline passed."""

from __future__ import annotations

import datetime as dt
import logging

from apscheduler.schedulers.base import BaseScheduler

from crm.db import unit_of_work
from crm.funding.services import refresh_deadlines_and_close
from jobs.context import WorkerContext

log = logging.getLogger("crm.jobs.funding")


def close_expired_calls(ctx: WorkerContext, now: dt.datetime | None = None) -> dict[str, int]:
    now = now or dt.datetime.now(dt.UTC)
    with unit_of_work(ctx.session_factory) as session:
        result = refresh_deadlines_and_close(session, now)
    if result["closed"] or result["advanced"]:
        log.info("funding calls: %s", result)
    return result


def register(scheduler: BaseScheduler, ctx: WorkerContext) -> None:
    scheduler.add_job(
        close_expired_calls,
        "cron",
        minute=5,
        timezone="Europe/London",
        args=[ctx],
        id="funding.close_expired_calls",
        name="Close funding calls after their last deadline",
        coalesce=True,
        max_instances=1,
        replace_existing=True,
    )
