"""The partnerships part of an organisation's admin page: its partnerships (with health) and recent activity."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from crm.directory.sections import Section
from crm.partnerships import services as ps
from crm.settings import Settings


def admin_sections(
    session: Session, organisation_id: int, *, now: dt.datetime | None = None, settings: Settings | None = None
) -> list[Section]:
    now = now or dt.datetime.now(dt.UTC)
    settings = settings or Settings.from_env()
    partnerships = ps.for_organisation(session, organisation_id)
    activity = ps.recent_activity_for_organisation(session, organisation_id) if partnerships else []
    return [
        Section(
            title="Partnerships",
            template="admin/partnership_org_section.html",
            context={
                "organisation_id": organisation_id,
                "partnerships": [
                    {"row": r, "health": ps.health_of(r.last_activity_at, r.created_at, now, settings).value}
                    for r in partnerships
                ],
                "activity": activity,
            },
        )
    ]
