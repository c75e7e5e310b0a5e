"""The partnerships part of an organisation's admin page: its partnerships (with health) and recent activity."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from crm.extensions import Section
from crm.partnerships import queries, rules
from crm.settings import Settings


def admin_sections(
    session: Session, organisation_id: int, *, now: dt.datetime | None = None, settings: Settings | None = None
) -> list[Section]:
    now = now or dt.datetime.now(dt.UTC)
    settings = settings or Settings.from_env()
    partnerships = queries.for_organisation(session, organisation_id)
    activity = queries.recent_activity_for_organisation(session, organisation_id) if partnerships else []
    return [
        Section(
            title="Partnerships",
            template="admin/partnership_org_section.html",
            context={
                "organisation_id": organisation_id,
                "partnerships": [
                    {"row": r, "health": rules.health_of(r.last_activity_at, r.created_at, now, settings).value}
                    for r in partnerships
                ],
                "activity": activity,
            },
        )
    ]
