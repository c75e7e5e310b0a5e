"""Demo digests: nothing to seed beyond what the other domains add (confirmed subscribers, calls, events,
internships). After ``crm seed-demo``, ``crm digests run --period <this week>`` queues their digests, and
``/admin/digests/preview/<id>`` shows any subscriber's next one."""

from __future__ import annotations

from sqlalchemy.orm import Session

from crm.settings import Settings


def seed(session: Session, settings: Settings) -> None:
    return None
