"""What refers to an organisation from this domain, for the directory's delete/merge confirmation."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import models as m


def references(session: Session, org_id: int) -> list[str]:
    """Plain-language lines such as "3 internships (deleting the organisation deletes them)"."""
    count = session.scalar(select(func.count(m.Internship.id)).where(m.Internship.host_organisation_id == org_id))
    if not count:
        return []
    noun = "internship" if count == 1 else "internships"
    return [f"{count} {noun} hosted by this organisation (and their registrations of interest)"]
