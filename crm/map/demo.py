"""The map's demo step: count the tally once the other domains have seeded (the manifest runs it after them), so
the demo's map shows its figures at once instead of after the job's first run."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from crm.map import tally
from crm.settings import Settings


def seed(session: Session, settings: Settings) -> None:
    tally.refresh(session, now=dt.datetime.now(dt.UTC))
