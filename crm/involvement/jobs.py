"""Involvement opportunities close by themselves at the end of their closing date.

The public list and the interest form already compare ``closes_at`` with the clock, so nobody can express interest
late even before this runs; the job sets the stored status (what the admin lists, the API and the poster see) with
one UPDATE however many are due, and one audit INSERT for them all.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from crm import models as m
from crm.db import unit_of_work
from crm.runtime import Runtime
from crm.scheduling import ScheduledJob, cron

log = logging.getLogger("crm.jobs.involvement")
O = m.InvolvementOpportunity  # noqa: E741 - short alias
Status = m.OpportunityStatus


def close_expired(session: Session, *, now: dt.datetime) -> int:
    """Published opportunities whose closing moment has passed become closed (their page stays, saying so)."""
    closed = list(
        session.execute(
            update(O)
            .where(O.status == Status.PUBLISHED, O.closes_at <= now)
            .values(status=Status.CLOSED, closed_at=now, updated_at=now)
            .returning(O.id, O.title)
            .execution_options(synchronize_session=False)
        )
    )
    if closed:
        session.execute(
            insert(m.AuditEntry),
            [
                {
                    "at": now,
                    "actor": "system",
                    "action": "close",
                    "entity": "involvement_opportunity",
                    "entity_id": row.id,
                    "summary": f"{row.title[:400]}: closed at its closing date",
                    "changes": {"status": [Status.PUBLISHED.value, Status.CLOSED.value]},
                }
                for row in closed
            ],
        )
    return len(closed)


def close_expired_opportunities(rt: Runtime, now: dt.datetime | None = None) -> int:
    with unit_of_work(rt.session_factory) as session:
        closed = close_expired(session, now=now or dt.datetime.now(dt.UTC))
    if closed:
        log.info("closed %s involvement opportunities at their closing date", closed)
    return closed


JOBS = [
    ScheduledJob(
        "involvement.close_expired",
        "Close involvement opportunities at their closing date",
        close_expired_opportunities,
        cron(minute=7),  # hourly
        first_run_after=dt.timedelta(minutes=1),  # catch up after downtime
    ),
]
