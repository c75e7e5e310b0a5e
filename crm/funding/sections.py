"""The funding part of an organisation's page: the calls it funds that are open now (public page)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from crm.extensions import Section
from crm.funding.queries import published_for_funder


def public_sections(session: Session, organisation_id: int, *, now: dt.datetime | None = None) -> list[Section]:
    now = now or dt.datetime.now(dt.UTC)
    calls = published_for_funder(session, organisation_id, now)
    if not calls:
        return []
    return [
        Section(
            title="Open funding calls",
            template="public/funding_org_section.html",
            context={"calls": calls, "now": now},
        )
    ]
