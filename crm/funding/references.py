"""What in the funding domain still refers to an organisation (so the directory refuses to delete it)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m


def references(session: Session, organisation_id: int) -> list[str]:
    return [
        f"Funding call “{title}” names it as funder"
        for (title,) in session.execute(
            select(m.FundingCall.title)
            .where(m.FundingCall.funder_id == organisation_id)
            .order_by(m.FundingCall.title_normalised)
            .limit(50)
        )
    ]
