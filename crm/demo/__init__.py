"""Demo data for ``make run`` and ``crm seed-demo``: invented names only, never real people.

Each domain contributes a ``seed(session, settings)`` in its own ``demo.py``; they run in this order, each
seeing what the earlier ones made.
"""

from __future__ import annotations

import importlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.services import ensure_user
from crm.directory.reference import ensure_reference_data
from crm.settings import Settings

DEMO_SEEDERS = (
    "crm.directory.demo",
    "crm.mailing.demo",
    "crm.funding.demo",
    "crm.partnerships.demo",
    "crm.events.demo",
    "crm.internships.demo",
    "crm.digests.demo",
)


def is_empty(session: Session) -> bool:
    return session.scalar(select(m.Organisation.id).limit(1)) is None


def seed_demo(session: Session, settings: Settings) -> None:
    ensure_reference_data(session)
    ensure_user(session, settings.demo_admin_email, m.Role.ADMIN, name="Demo Fellow")
    for name in DEMO_SEEDERS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.seed(session, settings)
        session.flush()
