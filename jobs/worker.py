"""``crm worker``: the scheduler and the outbox dispatcher in their own process.

APScheduler 3.x with a memory job store is only a clock here; all state lives in the database, so missed runs,
restarts and more than one worker are simple. Jobs run in Europe/London wall-clock time. Which jobs exist is
read from the manifest (``crm.domains``): each domain declares its ``ScheduledJob``s beside its services.

Roles (logged at start and on every change, on ``crm.worker``):

- **leader**: holds the scheduler lock (``jobs.lock``) and runs every job. One at a time, on both databases.
- **shared work** (PostgreSQL only): a worker that finds the lock held runs the jobs several processes may run at
  once (declared ``shared=True``: the outbox dispatch, whose claims are ``FOR UPDATE SKIP LOCKED``), on the same
  trigger as the leader, while it waits for the lock; when it gets it, it finishes the run in progress, stops
  that loop and becomes the leader.
- **standby** (SQLite): only waits. SQLite has one writer, so a second dispatcher would only queue on its lock.
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


def build_scheduler(
    rt: Runtime, *, background: bool = False, jobs: Iterable[ScheduledJob] | None = None
) -> BaseScheduler:
    """A scheduler with ``jobs`` (default: every job of the manifest)."""
    cls = BackgroundScheduler if background else BlockingScheduler
    scheduler = cls(
        timezone=rt.settings.timezone,
        executors={"default": ThreadPoolExecutor(4)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    register_jobs(scheduler, rt, all_jobs() if jobs is None else jobs)
    return scheduler


def shared_jobs(rt: Runtime) -> list[ScheduledJob]:
    """The jobs a worker without the scheduler lock runs beside the leader: none on SQLite (one writer), else the
    manifest's jobs whose domain declares them safe in several processes at once (``ScheduledJob.shared``), so
    the function and the trigger are the leader's own."""
    if rt.engine.dialect.name != "postgresql":
        return []
    return [job for job in all_jobs() if job.shared]


def run_worker(settings: Settings) -> None:
    """Block forever: lead if the scheduler lock is free; otherwise run the shared work (PostgreSQL) or wait as a
    standby (SQLite) until the lock is free, then lead."""
    rt = Runtime(settings, EXTENSIONS)
    sharing: list[BaseScheduler] = []

    def while_waiting() -> None:
        jobs = shared_jobs(rt)
        if not jobs:
            log.warning(
                "worker role: standby (%s: one writer); another worker holds the scheduler lock, taking over when "
                "it stops",
                rt.engine.dialect.name,
            )
            return
        shared = build_scheduler(rt, background=True, jobs=jobs)
        shared.start()
        sharing.append(shared)
        log.info(
            "worker role: shared work (%s) beside the leader, which holds the scheduler lock; taking over the "
            "scheduler when it stops",
            ", ".join(f"{j.id} every {_every(shared, j.id)}" for j in jobs),
        )

    with hold_scheduler_lock(rt.engine, on_wait=while_waiting):
        for shared in sharing:
            log.info("scheduler lock acquired: finishing the shared run in progress before leading")
            shared.shutdown(wait=True)  # one dispatcher per process: the leader's own dispatch job starts next
        scheduler = build_scheduler(rt)
        log.info(
            "worker role: leader (scheduler lock held) with jobs: %s", ", ".join(j.id for j in scheduler.get_jobs())
        )
        scheduler.start()


def _every(scheduler: BaseScheduler, job_id: str) -> str:
    """A job's trigger as a log reads it ("interval[0:00:05]")."""
    job = scheduler.get_job(job_id)
    return str(job.trigger) if job is not None else "?"


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
