"""Mail jobs: drain the outbox every few seconds."""

from __future__ import annotations

import logging

from apscheduler.schedulers.base import BaseScheduler

from crm.mailing.dispatch import drain
from jobs.context import WorkerContext

log = logging.getLogger("crm.jobs.mail")


def dispatch_outbox(ctx: WorkerContext) -> None:
    stats = drain(ctx.session_factory, ctx.transport, ctx.settings)
    if stats.claimed:
        log.info("outbox: %s", stats)


def register(scheduler: BaseScheduler, ctx: WorkerContext) -> None:
    scheduler.add_job(
        dispatch_outbox,
        "interval",
        seconds=ctx.settings.dispatch_interval_seconds,
        args=[ctx],
        id="mail.dispatch_outbox",
        name="Send queued email",
        coalesce=True,
        max_instances=1,
        replace_existing=True,
    )
