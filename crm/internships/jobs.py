"""Internship jobs: close listings at their closing date; remind hosts a week before it."""

from __future__ import annotations

import datetime as dt
import logging

from crm.db import unit_of_work
from crm.internships import services
from crm.runtime import Runtime
from crm.scheduling import ScheduledJob, cron

log = logging.getLogger("crm.jobs.internships")


def close_expired_internships(rt: Runtime, now: dt.datetime | None = None) -> int:
    with unit_of_work(rt.session_factory) as session:
        closed = services.close_expired(session, now=now or dt.datetime.now(dt.UTC))
    if closed:
        log.info("closed %s internships at their closing date", closed)
    return closed


def remind_hosts(rt: Runtime, now: dt.datetime | None = None) -> int:
    with unit_of_work(rt.session_factory) as session:
        sent = services.send_closing_reminders(
            session, rt.renderer, rt.signer, rt.settings.base_url, now=now or dt.datetime.now(dt.UTC)
        )
    if sent:
        log.info("queued %s internship closing reminders", sent)
    return sent


JOBS = (
    # Every 15 minutes: a listing leaves the public list at most 15 minutes after its closing moment (the list
    # itself already hides listings whose closing moment has passed, so this only sets the stored status).
    ScheduledJob(
        "internships.close_expired",
        "Close internships at their closing date",
        close_expired_internships,
        cron(minute="*/15"),
    ),
    ScheduledJob(
        "internships.remind_hosts",
        "Ask hosts a week before closing whether the placement is filled",
        remind_hosts,
        cron(hour=9, minute=5),
    ),
)
