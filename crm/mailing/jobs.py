"""Mail jobs: drain the outbox every few seconds.

The drain is safe in several processes at once on PostgreSQL (claims are ``FOR UPDATE SKIP LOCKED``, outcomes are
written by outbox id, settlement only touches expired leases), so it is declared shared: every ``crm worker`` runs
it, not only the one that holds the scheduler lock (``jobs.worker``).
"""

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


# Jobs every worker runs on PostgreSQL, beside the single leader that runs the rest.
SHARED_JOB_IDS = frozenset({"mail.dispatch_outbox"})

JOBS = (
    ScheduledJob(
        "mail.dispatch_outbox",
        "Send queued email",
        dispatch_outbox,
        lambda settings: IntervalTrigger(seconds=settings.dispatch_interval_seconds),
    ),
)
