"""Privacy job: the weekly retention run (unconfirmed subscriptions, long-idle contacts, idle lived experience
network members, expressions of interest in long-closed involvement opportunities)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from crm.db import unit_of_work
from crm.privacy import retention
from crm.runtime import Runtime
from crm.scheduling import ScheduledJob, cron

log = logging.getLogger("crm.jobs.privacy")


def run_retention(rt: Runtime, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or dt.datetime.now(dt.UTC)
    with unit_of_work(rt.session_factory) as session:
        result = retention.run(session, now=now, settings=rt.settings)
    keys = ("subscriptions", "contacts", "network_members", "involvement_interests", "network_joins")
    counts = {key: result[key] for key in keys}
    if any(counts.values()):
        log.info("retention: anonymised %s", counts)
    return counts


JOBS = (
    ScheduledJob(
        "privacy.retention",
        "Anonymise unconfirmed subscriptions, long-idle contacts and network members, old interest",
        run_retention,
        cron(day_of_week="sun", hour=3, minute=30),
    ),
)
