"""The network's job: alert members of opportunities once they are published (``crm.involvement.alerts``)."""

from __future__ import annotations

import datetime as dt
import logging

from crm.db import unit_of_work
from crm.involvement import alerts, network
from crm.runtime import Runtime
from crm.scheduling import ScheduledJob, cron

log = logging.getLogger("crm.jobs.involvement")


def send_alerts(rt: Runtime, now: dt.datetime | None = None) -> int:
    """Each due opportunity in its own transaction, so one that fails to render leaves the others' alerts sent
    and is tried again next run. Returns how many emails were queued."""
    now = now or dt.datetime.now(dt.UTC)
    with unit_of_work(rt.session_factory) as session:
        due = alerts.due(session, now)
    queued = 0
    for opp_id in due:
        try:
            with unit_of_work(rt.session_factory) as session:
                queued += alerts.alert(session, rt.renderer, rt.signer, opp_id, now) or 0
        except Exception:  # one bad opportunity must not stop the others; it stays unclaimed and is retried
            log.exception("involvement alerts for opportunity %s failed; it will be tried again", opp_id)
    if queued:
        log.info("queued %s involvement alerts for %s opportunities", queued, len(due))
    return queued


def forget_unconfirmed(rt: Runtime, now: dt.datetime | None = None) -> int:
    """Delete joins never confirmed (``crm.involvement.network.forget_unconfirmed``)."""
    with unit_of_work(rt.session_factory) as session:
        deleted = network.forget_unconfirmed(session, now or dt.datetime.now(dt.UTC))
    if deleted:
        log.info("deleted %s unconfirmed lived experience network joins", deleted)
    return deleted


JOBS = (
    # Every 10 minutes: members hear of a new opportunity soon after the fellow publishes it.
    ScheduledJob(
        "involvement.network_alerts",
        "Alert lived experience network members of new involvement opportunities",
        send_alerts,
        cron(minute="*/10"),
    ),
    # Daily: what people sent who never confirmed is deleted a day after their link stopped working.
    ScheduledJob(
        "involvement.network_forget_unconfirmed",
        "Delete lived experience network joins never confirmed",
        forget_unconfirmed,
        cron(hour=3, minute=20),
    ),
)
