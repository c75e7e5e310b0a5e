"""Why an organisation cannot be deleted yet, from this domain (``crm.directory.references`` collects these).

Internships are deleted with their host organisation (and with them the registrations of interest), so the
directory refuses the deletion while any exist; merging re-points them to the surviving organisation.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m


def references(session: Session, org_id: int) -> list[str]:
    titles = list(
        session.scalars(
            select(m.Internship.title)
            .where(m.Internship.host_organisation_id == org_id)
            .order_by(m.Internship.id)
            .limit(6)
        )
    )
    reasons = [f"Internship '{t}' is hosted by it" for t in titles[:5]]
    if len(titles) > 5:
        reasons.append("…and more internships are hosted by it")
    return reasons
