"""Internship jobs: close listings at their closing date; remind hosts a week before it."""

from __future__ import annotations

import datetime as dt
import logging

from apscheduler.schedulers.base import BaseScheduler

from crm.db import unit_of_work
from crm.internships import services
from jobs.context import WorkerContext

log = logging.getLogger("crm.jobs.internships")


def close_expired_internships(ctx: WorkerContext, now: dt.datetime | None = None) -> int:
    with unit_of_work(ctx.session_factory) as session:
        closed = services.close_expired(session, now=now or dt.datetime.now(dt.UTC))
    if closed:
        log.info("closed %s internships at their closing date", closed)
    return closed


def remind_hosts(ctx: WorkerContext, now: dt.datetime | None = None) -> int:
    with unit_of_work(ctx.session_factory) as session:
        sent = services.send_closing_reminders(
            session, ctx.renderer, ctx.signer, ctx.settings.base_url, now=now or dt.datetime.now(dt.UTC)
        )
    if sent:
        log.info("queued %s internship closing reminders", sent)
    return sent


def register(scheduler: BaseScheduler, ctx: WorkerContext) -> None:
    # Every 15 minutes: a listing leaves the public list at most 15 minutes after its closing moment (the list
    # itself already hides listings whose closing moment has passed, so this only sets the stored status).
    scheduler.add_job(
        close_expired_internships,
        "cron",
        minute="*/15",
        args=[ctx],
        id="internships.close_expired",
        name="Close internships at their closing date",
        coalesce=True,
        max_instances=1,
        replace_existing=True,
    )
    scheduler.add_job(
        remind_hosts,
        "cron",
        hour=9,
        minute=5,
        args=[ctx],
        id="internships.remind_hosts",
        name="Ask hosts a week before closing whether the placement is filled",
        coalesce=True,
        max_instances=1,
        replace_existing=True,
    )
