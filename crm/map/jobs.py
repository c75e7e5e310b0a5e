"""The map's job: count every measure into the stored tally every few minutes (``crm.map.tally``), so the map
pages only read. Soon after the worker starts too, so a fresh install or a worker back from downtime does not
show old or missing figures for long."""

from __future__ import annotations

import datetime as dt
import logging

from crm.db import unit_of_work
from crm.map import tally
from crm.runtime import Runtime
from crm.scheduling import ScheduledJob, every

log = logging.getLogger("crm.jobs.map")


def refresh_tally(rt: Runtime, now: dt.datetime | None = None) -> list[tally.Counted]:
    with unit_of_work(rt.session_factory) as session:
        done = tally.refresh(session, now=now or dt.datetime.now(dt.UTC))
    log.info("map tally: %s", ", ".join(f"{c.measure} {c.rows} rows in {c.seconds:.1f} s" for c in done))
    return done


JOBS = (
    ScheduledJob(
        "map.refresh_tally",
        "Count the regional map's figures",
        refresh_tally,
        every(minutes=tally.REFRESH_MINUTES),
        first_run_after=dt.timedelta(seconds=15),
    ),
)
