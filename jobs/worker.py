"""``crm worker``: the scheduler and the outbox dispatcher in their own process.

APScheduler 3.x with a memory job store is only a clock here; all state lives in the database, so missed runs,
restarts and more than one worker are simple. Jobs run in Europe/London wall-clock time. Which jobs exist is
read from the manifest (``crm.domains``): each domain declares its ``ScheduledJob``s beside its services.

Roles (logged at start and on every change, on ``crm.worker``):

- **leader**: holds the scheduler lock (``jobs.lock``) and runs every job. One at a time, on both databases.
- **shared work** (PostgreSQL only): a worker that finds the lock held runs the jobs several processes may run at
  once (declared ``shared=True``: the outbox dispatch, whose claims are ``FOR UPDATE SKIP LOCKED``, and
  ``digests.build_shards``, which builds the digest shards it can lock), on the same
  trigger as the leader, while it waits for the lock; when it gets it, it finishes the run in progress, stops
  that loop and becomes the leader.
- **standby** (SQLite): only waits. SQLite has one writer, so a second dispatcher would only queue on its lock.

A leader checks its lock every ``jobs.lock.CHECK_SECONDS`` (``lead``). If the lock is lost while the process lives
(PostgreSQL: its session was cut), it steps down at once ("scheduler lock lost: stepping down", an error), lets
its runs in progress finish and waits for the lock again, doing the shared work meanwhile. A worker that takes
the lock waits ``TAKEOVER_GRACE_SECONDS`` before leading (``settle``), so the one that lost it has stepped down.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterable

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from crm.domains import EXTENSIONS, all_jobs
from crm.runtime import Runtime
from crm.scheduling import ScheduledJob
from crm.settings import Settings
from jobs.lock import CHECK_SECONDS, TAKEOVER_GRACE_SECONDS, SchedulerLock, wait_for_lock

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


class _Worker:
    """One ``crm worker``: waits for the lock (running the shared work meanwhile), leads, and after a lost lock
    waits again. The shared scheduler is kept across rounds so a process never runs two of them; the role is
    logged when it changes."""

    def __init__(self, rt: Runtime, poll_seconds: float) -> None:
        self.rt, self.poll_seconds = rt, poll_seconds
        self.shared: BaseScheduler | None = None
        self.role = ""
        self.stepped_down = False

    def while_waiting(self) -> None:
        jobs = shared_jobs(self.rt)
        if not jobs:
            if self.role != "standby":
                log.warning(
                    "worker role: standby (%s: one writer); another worker holds the scheduler lock, taking over "
                    "when it stops",
                    self.rt.engine.dialect.name,
                )
            self.role = "standby"
            return
        if self.shared is None:
            self.shared = build_scheduler(self.rt, background=True, jobs=jobs)
            self.shared.start()
        if self.role != "shared":
            log.info(
                "worker role: shared work (%s) beside the leader, which holds the scheduler lock; taking over the "
                "scheduler when it stops",
                ", ".join(f"{j.id} every {_every(self.shared, j.id)}" for j in jobs),
            )
        self.role = "shared"

    def stop_sharing(self) -> None:
        if self.shared is not None:
            log.info("scheduler lock acquired: finishing the shared run in progress before leading")
            self.shared.shutdown(wait=True)  # one dispatcher per process: the leader's own dispatch job starts next
            self.shared = None

    def round(self) -> None:
        """Wait for the lock, lead until it is lost (returns then; the caller goes round again).

        After stepping down, the worker does the shared work and leaves the lock to the others for two polls
        before asking again: the lock is free at once (its session was cut), and the worker whose connection
        was cut is the likelier one to have a network problem, so one that polls meanwhile takes over."""
        if self.stepped_down:
            self.stepped_down = False
            self.while_waiting()
            time.sleep(2 * self.poll_seconds)
        lock = SchedulerLock(self.rt.engine)
        wait_for_lock(lock, self.poll_seconds, on_wait=self.while_waiting)
        if not settle(lock):
            return
        self.stop_sharing()
        scheduler = build_scheduler(self.rt, background=True)
        log.info(
            "worker role: leader (scheduler lock held) with jobs: %s", ", ".join(j.id for j in scheduler.get_jobs())
        )
        self.role = "leader"
        lead(lock, scheduler)
        self.role, self.stepped_down = "stepped down", True


def run_worker(settings: Settings, poll_seconds: float = 5.0) -> None:
    """Block forever: lead if the scheduler lock is free; otherwise run the shared work (PostgreSQL) or wait as a
    standby (SQLite) until the lock is free, then lead. A leader that loses its lock steps down and waits again."""
    worker = _Worker(Runtime(settings, EXTENSIONS), poll_seconds)
    while True:
        worker.round()


def settle(lock: SchedulerLock, grace_seconds: float = TAKEOVER_GRACE_SECONDS) -> bool:
    """After taking a lock that can be lost, wait out the grace (``jobs.lock``) so a leader that lost it has
    stepped down before this one starts, then check the lock once more. False (and the lock let go) if it went."""
    if not lock.can_be_lost:
        return True
    log.info("scheduler lock acquired: leading in %.0f s, once a leader that lost it has stepped down", grace_seconds)
    time.sleep(grace_seconds)
    if lock.still_held():
        return True
    log.error("scheduler lock lost before leading; waiting for it again")
    lock.release()
    return False


def lead(
    lock: SchedulerLock,
    scheduler: BaseScheduler,
    check_seconds: float = CHECK_SECONDS,
    stop: threading.Event | None = None,
) -> None:
    """Run ``scheduler`` (a background one) while ``lock`` is held; return when the lock is lost or ``stop`` is set.

    Losing the lock is stepping down at once: the scheduler is paused (no new run starts) before anything else,
    the error is logged, the lock's session is closed, then the runs already in progress are waited for (they
    cannot be interrupted, and every job tolerates a second leader's run: docs/deploy.md) so this process never
    runs a job twice at once when it leads again. Why step down and wait again rather than exit for the
    supervisor to restart: the embedded worker of ``crm run`` shares its process with the web server, which must
    not exit, so stepping down is needed anyway; the same code serves ``crm worker``, and a worker that steps down
    goes on doing the shared work instead of leaving the outbox to one process while it restarts."""
    stop = stop or threading.Event()
    scheduler.start()
    try:
        while not stop.wait(check_seconds):
            if not lock.still_held():
                scheduler.pause()
                log.error("scheduler lock lost: stepping down (no new job runs start; runs in progress finish)")
                lock.release()
                scheduler.shutdown(wait=True)
                log.warning("stepped down: runs in progress finished; waiting for the scheduler lock again")
                return
    except BaseException:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        lock.release()
        raise
    scheduler.shutdown(wait=True)
    lock.release()


def _every(scheduler: BaseScheduler, job_id: str) -> str:
    """A job's trigger as a log reads it ("interval[0:00:05]")."""
    job = scheduler.get_job(job_id)
    return str(job.trigger) if job is not None else "?"


def start_background_worker(settings: Settings, stop: threading.Event | None = None) -> threading.Thread:
    """For the embedded default (``crm run``): the same jobs in a daemon thread beside the web server. If a
    separate worker holds the lock, it stays off. If it loses the lock while leading (its database restarted),
    it steps down like ``crm worker`` and waits for the lock as a standby (no shared work: the embedded worker is
    the one-process default), then leads again. ``stop`` ends it (tests)."""
    stop = stop or threading.Event()

    def _run() -> None:
        rt = Runtime(settings, EXTENSIONS)
        lock = SchedulerLock(rt.engine)
        if not lock.try_acquire():
            log.warning("a separate worker is running; the in-process scheduler stays off")
            rt.close()
            return
        while not stop.is_set():
            if settle(lock):
                log.info("in-process scheduler: leader (scheduler lock held)")
                lead(lock, build_scheduler(rt, background=True), stop=stop)
            if stop.is_set():
                break
            lock = SchedulerLock(rt.engine)
            while not stop.is_set() and not lock.try_acquire():
                stop.wait(5.0)
        lock.release()
        rt.close()

    thread = threading.Thread(target=_run, name="crm-worker", daemon=True)
    thread.start()
    return thread
