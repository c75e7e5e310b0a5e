"""Demo data for ``make run`` and ``crm seed-demo``: invented names only, never real people.

Each domain contributes a ``seed(session, settings)`` in its own ``demo.py``, declared in the manifest
(``crm.domains``); they run in the manifest's order, each seeing what the earlier ones made.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import db
from crm import models as m
from crm.accounts.services import ensure_user
from crm.directory.reference import ensure_reference_data
from crm.domains import all_seeders
from crm.settings import Settings


def is_empty(session: Session) -> bool:
    return session.scalar(select(m.Organisation.id).limit(1)) is None


def seed_demo(session: Session, settings: Settings) -> None:
    ensure_reference_data(session)
    ensure_user(session, settings.demo_admin_email, m.Role.ADMIN, name="Demo Fellow")
    for seed in all_seeders():
        seed(session, settings)
        session.flush()
    db.analyze(session)  # statistics for the planner before the first visitor (crm.db.analyze)
