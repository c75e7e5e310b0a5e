"""What in the partnerships domain still refers to an organisation (so the directory refuses to delete it)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m


def references(session: Session, organisation_id: int) -> list[str]:
    return [
        f"Partnership “{title}” has it as a member ({side.value} side)"
        for title, side in session.execute(
            select(m.Partnership.title, m.PartnershipMember.side)
            .join(m.PartnershipMember, m.PartnershipMember.partnership_id == m.Partnership.id)
            .where(m.PartnershipMember.organisation_id == organisation_id)
            .order_by(m.Partnership.title)
            .limit(50)
        )
    ]
