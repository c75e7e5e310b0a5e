"""Event jobs: reminders to people who said yes, and waitlist offers (lapsing old ones, offering free places).

Thin: each tick calls the events services in one unit of work; all state is in the database, so a missed or
repeated tick is harmless (idempotency keys include the event's SEQUENCE and the reminder offset).
"""

from __future__ import annotations

import datetime as dt
import logging

from apscheduler.schedulers.base import BaseScheduler

from crm.db import unit_of_work
from crm.events import rsvp, services
from crm.events.mail import Mailer
from jobs.context import WorkerContext

log = logging.getLogger("crm.jobs.events")


def _mailer(ctx: WorkerContext) -> Mailer:
    return Mailer(ctx.renderer, ctx.signer, ctx.settings)


def send_reminders(ctx: WorkerContext, now: dt.datetime | None = None) -> int:
    now = now or dt.datetime.now(dt.UTC)
    with unit_of_work(ctx.session_factory) as session:
        queued = services.queue_reminders(session, _mailer(ctx), now)
    if queued:
        log.info("event reminders queued: %s", queued)
    return queued


def queue_pending(ctx: WorkerContext, now: dt.datetime | None = None) -> int:
    """Invitations, updates and cancellations a large send left for the worker, a batch at a time."""
    now = now or dt.datetime.now(dt.UTC)
    total = 0
    while True:
        with unit_of_work(ctx.session_factory) as session:
            queued = services.queue_pending(session, _mailer(ctx), now)
        total += queued
        if queued < 500:
            break
    if total:
        log.info("event emails queued by the worker: %s", total)
    return total


def waitlist_offers(ctx: WorkerContext, now: dt.datetime | None = None) -> tuple[int, int]:
    now = now or dt.datetime.now(dt.UTC)
    with unit_of_work(ctx.session_factory) as session:
        lapsed = rsvp.expire_offers(session, _mailer(ctx), now)
        offered = rsvp.fill_all(session, _mailer(ctx), now)
    if lapsed or offered:
        log.info("waitlist: %s offers lapsed, %s places offered", lapsed, offered)
    return lapsed, offered


def register(scheduler: BaseScheduler, ctx: WorkerContext) -> None:
    scheduler.add_job(
        queue_pending,
        "interval",
        minutes=1,
        args=[ctx],
        id="events.queue_pending",
        name="Queue event invitations, updates and cancellations of large sends",
        coalesce=True,
        max_instances=1,
        replace_existing=True,
    )
    scheduler.add_job(
        send_reminders,
        "interval",
        minutes=10,
        args=[ctx],
        id="events.send_reminders",
        name="Event reminders to people who said yes",
        coalesce=True,
        max_instances=1,
        replace_existing=True,
    )
    scheduler.add_job(
        waitlist_offers,
        "interval",
        minutes=5,
        args=[ctx],
        id="events.waitlist_offers",
        name="Waitlist offers: lapse expired ones, offer free places",
        coalesce=True,
        max_instances=1,
        replace_existing=True,
    )
