"""Funding jobs: every hour, advance stored next deadlines and close published calls whose last deadline passed."""

from __future__ import annotations

import datetime as dt
import logging

from crm.db import unit_of_work
from crm.funding.services import refresh_deadlines_and_close
from crm.runtime import Runtime
from crm.scheduling import ScheduledJob, cron

log = logging.getLogger("crm.jobs.funding")


def close_expired_calls(rt: Runtime, now: dt.datetime | None = None) -> dict[str, int]:
    now = now or dt.datetime.now(dt.UTC)
    with unit_of_work(rt.session_factory) as session:
        result = refresh_deadlines_and_close(session, now)
    if result["closed"] or result["advanced"]:
        log.info("funding calls: %s", result)
    return result


JOBS = (
    ScheduledJob(
        "funding.close_expired_calls",
        "Close funding calls after their last deadline",
        close_expired_calls,
        cron(minute=5),
    ),
)
