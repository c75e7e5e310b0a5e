"""``crm worker``: the scheduler and the outbox dispatcher in their own process.

APScheduler 3.x with a memory job store is only a clock here; all state lives in the database, so missed runs,
restarts and a second (standby) worker are simple. Jobs run in Europe/London wall-clock time. Which jobs exist is
read from the manifest (``crm.domains``): each domain declares its ``ScheduledJob``s beside its services.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterable

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from crm.domains import EXTENSIONS, all_jobs
from crm.runtime import Runtime
from crm.scheduling import ScheduledJob
from crm.settings import Settings
from jobs.lock import hold_scheduler_lock

log = logging.getLogger("crm.worker")


def register_jobs(scheduler: BaseScheduler, rt: Runtime, jobs: Iterable[ScheduledJob]) -> None:
    """Every job with the same safety settings: missed runs coalesce, one instance at a time, ids replace."""
    for job in jobs:
        extra = {}
        if job.first_run_after is not None:
            extra["next_run_time"] = dt.datetime.now(dt.UTC) + job.first_run_after
        scheduler.add_job(
            job.run,
            job.trigger(rt.settings),
            args=[rt],
            kwargs=dict(job.kwargs),
            id=job.id,
            name=job.name,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=3600,
            replace_existing=True,
            **extra,
        )


def build_scheduler(rt: Runtime, *, background: bool = False) -> BaseScheduler:
    cls = BackgroundScheduler if background else BlockingScheduler
    scheduler = cls(
        timezone=rt.settings.timezone,
        executors={"default": ThreadPoolExecutor(4)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    register_jobs(scheduler, rt, all_jobs())
    return scheduler


def run_worker(settings: Settings) -> None:
    """Block forever: wait for the scheduler lock (standby), then run the jobs."""
    rt = Runtime(settings, EXTENSIONS)
    with hold_scheduler_lock(rt.engine):
        scheduler = build_scheduler(rt)
        log.info("worker active with jobs: %s", ", ".join(j.id for j in scheduler.get_jobs()))
        scheduler.start()


def start_background_worker(settings: Settings) -> threading.Thread:
    """For the embedded default (``crm run``): the same jobs in a daemon thread beside the web server."""

    def _run() -> None:
        rt = Runtime(settings, EXTENSIONS)
        with hold_scheduler_lock(rt.engine, wait=False) as active:
            if not active:
                log.warning("a separate worker is running; the in-process scheduler stays off")
                return
            scheduler = build_scheduler(rt, background=True)
            scheduler.start()
            threading.Event().wait()

    thread = threading.Thread(target=_run, name="crm-worker", daemon=True)
    thread.start()
    return thread
