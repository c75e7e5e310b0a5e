"""What in the events domain refers to an organisation (shown before an organisation is merged or deleted)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import models as m


def references(session: Session, org_id: int) -> list[str]:
    hosted = session.scalar(select(func.count()).where(m.Event.host_organisation_id == org_id)) or 0
    if not hosted:
        return []
    return [f"hosts {hosted} event{'s' if hosted != 1 else ''}"]
