"""A scheduled job as a domain declares it: what runs, when, under which id. The worker registers them all alike.

Domains declare data, not ``add_job`` calls, so every job gets the same safety settings (coalesce missed runs,
one instance at a time, replace on restart) from one place (``jobs.worker.register_jobs``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crm.runtime import Runtime
from crm.settings import Settings

LONDON = ZoneInfo("Europe/London")


@dataclasses.dataclass(frozen=True, slots=True)
class ScheduledJob:
    id: str
    name: str
    run: Callable[..., Any]  # run(runtime, **kwargs)
    trigger: Callable[[Settings], BaseTrigger]
    kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    first_run_after: dt.timedelta | None = None  # also run soon after start (catch-up after downtime)
    # Safe in several processes at once (PostgreSQL): a worker that does not lead runs it beside the leader.
    shared: bool = False


def cron(**fields: Any) -> Callable[[Settings], BaseTrigger]:
    """A wall-clock schedule in Europe/London (so 08:00 stays 08:00 across the clock change)."""
    return lambda _settings: CronTrigger(timezone=LONDON, **fields)


def every(**interval: Any) -> Callable[[Settings], BaseTrigger]:
    return lambda _settings: IntervalTrigger(timezone=LONDON, **interval)


__all__ = ["LONDON", "Runtime", "ScheduledJob", "cron", "every"]
