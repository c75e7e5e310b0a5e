"""Each domain's jobs module has ``register(scheduler, ctx)``; adding a domain's jobs is one line here."""

from __future__ import annotations

import importlib

from apscheduler.schedulers.base import BaseScheduler

from jobs.context import WorkerContext

JOB_MODULES = (
    "jobs.mail",
    "jobs.funding",
    "jobs.partnerships",
    "jobs.events",
    "jobs.internships",
    "jobs.digests",
    "jobs.privacy",
)


def register_all(scheduler: BaseScheduler, ctx: WorkerContext) -> None:
    for name in JOB_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(scheduler, ctx)
