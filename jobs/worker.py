"""``crm worker``: the scheduler and the outbox dispatcher in their own process.

APScheduler 3.x with a memory job store is only a clock here; all state lives in the database, so missed runs,
restarts and a second (standby) worker are simple. Jobs run in Europe/London wall-clock time.
"""

from __future__ import annotations

import logging
import threading

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from crm.settings import Settings
from jobs.context import WorkerContext
from jobs.lock import hold_scheduler_lock
from jobs.registry import register_all

log = logging.getLogger("crm.worker")


def build_scheduler(ctx: WorkerContext, *, background: bool = False) -> BaseScheduler:
    cls = BackgroundScheduler if background else BlockingScheduler
    scheduler = cls(
        timezone=ctx.settings.timezone,
        executors={"default": ThreadPoolExecutor(4)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    register_all(scheduler, ctx)
    return scheduler


def run_worker(settings: Settings) -> None:
    """Block forever: wait for the scheduler lock (standby), then run the jobs."""
    ctx = WorkerContext(settings)
    with hold_scheduler_lock(ctx.engine):
        scheduler = build_scheduler(ctx)
        log.info("worker active with jobs: %s", ", ".join(j.id for j in scheduler.get_jobs()))
        scheduler.start()


def start_background_worker(settings: Settings) -> threading.Thread:
    """For the embedded default (``crm run``): the same jobs in a daemon thread beside the web server."""

    def _run() -> None:
        ctx = WorkerContext(settings)
        with hold_scheduler_lock(ctx.engine, wait=False) as active:
            if not active:
                log.warning("a separate worker is running; the in-process scheduler stays off")
                return
            scheduler = build_scheduler(ctx, background=True)
            scheduler.start()
            threading.Event().wait()

    thread = threading.Thread(target=_run, name="crm-worker", daemon=True)
    thread.start()
    return thread
