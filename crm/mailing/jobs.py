"""Mail jobs: drain the outbox every few seconds; prune old mail detail weekly (``crm.mailing.prune``).

The drain is safe in several processes at once on PostgreSQL (claims are ``FOR UPDATE SKIP LOCKED``, outcomes are
written by outbox id, settlement only touches expired leases), so it is declared shared: every ``crm worker`` runs
it, not only the one that holds the scheduler lock (``jobs.worker``).
"""

from __future__ import annotations

import logging

from apscheduler.triggers.interval import IntervalTrigger

from crm.mailing import prune
from crm.mailing.dispatch import drain
from crm.runtime import Runtime
from crm.scheduling import ScheduledJob, cron

log = logging.getLogger("crm.jobs.mail")


def dispatch_outbox(rt: Runtime) -> None:
    stats = drain(rt.session_factory, rt.transport, rt.settings, renderers=rt.extensions.deferred_renderers)
    if stats.claimed:
        log.info("outbox: %s", stats)


def prune_mail_detail(rt: Runtime) -> prune.PruneStats:
    """Drop bodies, and ledger items closed, older than ``CRM_MAIL_DETAIL_DAYS``, in short batches."""
    stats = prune.prune(rt.session_factory, rt.settings.mail_detail_days, lookback_days=prune.LOOKBACK_DAYS)
    log.info("prune: %s", stats.line())
    return stats


JOBS = (
    ScheduledJob(
        "mail.dispatch_outbox",
        "Send queued email",
        dispatch_outbox,
        lambda settings: IntervalTrigger(seconds=settings.dispatch_interval_seconds),
        shared=True,  # claims are FOR UPDATE SKIP LOCKED: every worker on PostgreSQL drains beside the leader
    ),
    # Weekly at a quiet hour: Sunday 03:30 London time, far from Monday's 08:00 digests. Leader only.
    ScheduledJob(
        "mail.prune_detail",
        "Drop the full text of old email, keeping each email's summary",
        prune_mail_detail,
        cron(day_of_week="sun", hour=3, minute=30),
    ),
)
