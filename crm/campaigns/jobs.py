"""Campaign jobs: start scheduled campaigns at their time, and resume a send a crash interrupted."""

from __future__ import annotations

from crm.scheduling import ScheduledJob

JOBS: tuple[ScheduledJob, ...] = ()
