"""Mail jobs: drain the outbox every few seconds."""

from __future__ import annotations

import logging

from apscheduler.triggers.interval import IntervalTrigger

from crm.mailing.dispatch import drain
from crm.runtime import Runtime
from crm.scheduling import ScheduledJob

log = logging.getLogger("crm.jobs.mail")


def dispatch_outbox(rt: Runtime) -> None:
    stats = drain(rt.session_factory, rt.transport, rt.settings, renderers=rt.extensions.deferred_renderers)
    if stats.claimed:
        log.info("outbox: %s", stats)


JOBS = (
    ScheduledJob(
        "mail.dispatch_outbox",
        "Send queued email",
        dispatch_outbox,
        lambda settings: IntervalTrigger(seconds=settings.dispatch_interval_seconds),
    ),
)
