"""Event jobs: reminders to people who said yes, and waitlist offers (lapsing old ones, offering free places).

Thin: each tick calls the events services in one unit of work; all state is in the database, so a missed or
repeated tick is harmless (idempotency keys include the event's SEQUENCE and the reminder offset).
"""

from __future__ import annotations

import datetime as dt
import logging

from crm.db import unit_of_work
from crm.events import rsvp, sending
from crm.events.mail import Mailer
from crm.runtime import Runtime
from crm.scheduling import ScheduledJob, every

log = logging.getLogger("crm.jobs.events")


def _mailer(rt: Runtime) -> Mailer:
    return Mailer(rt.renderer, rt.signer, rt.settings)


def send_reminders(rt: Runtime, now: dt.datetime | None = None) -> int:
    now = now or dt.datetime.now(dt.UTC)
    with unit_of_work(rt.session_factory) as session:
        queued = sending.queue_reminders(session, _mailer(rt), now)
    if queued:
        log.info("event reminders queued: %s", queued)
    return queued


def queue_pending(rt: Runtime, now: dt.datetime | None = None) -> int:
    """Invitations, updates and cancellations a large send left for the worker, a batch at a time."""
    now = now or dt.datetime.now(dt.UTC)
    total = 0
    while True:
        with unit_of_work(rt.session_factory) as session:
            queued = sending.queue_pending(session, _mailer(rt), now)
        total += queued
        if queued < 500:
            break
    if total:
        log.info("event emails queued by the worker: %s", total)
    return total


def waitlist_offers(rt: Runtime, now: dt.datetime | None = None) -> tuple[int, int]:
    now = now or dt.datetime.now(dt.UTC)
    with unit_of_work(rt.session_factory) as session:
        lapsed = rsvp.expire_offers(session, _mailer(rt), now)
        offered = rsvp.fill_all(session, _mailer(rt), now)
    if lapsed or offered:
        log.info("waitlist: %s offers lapsed, %s places offered", lapsed, offered)
    return lapsed, offered


JOBS = (
    ScheduledJob(
        "events.queue_pending",
        "Queue event invitations, updates and cancellations of large sends",
        queue_pending,
        every(minutes=1),
    ),
    ScheduledJob("events.send_reminders", "Event reminders to people who said yes", send_reminders, every(minutes=10)),
    ScheduledJob(
        "events.waitlist_offers",
        "Waitlist offers: lapse expired ones, offer free places",
        waitlist_offers,
        every(minutes=5),
    ),
)
