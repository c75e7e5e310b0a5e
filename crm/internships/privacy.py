"""Personal data this domain holds about a person, for subject access and erasure (UK GDPR).

- registrations of interest (name, email, note), keyed by email;
- an internship's host contact (name, email), keyed by email.

``export(session, email)`` lists them; ``erase(session, email)`` removes the registrations and blanks the host
contact fields (the listing itself stays). The privacy domain calls these when a contact is erased.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm import models as m
from crm.internships.services import erase_interests, export_interests


def export(session: Session, email: str) -> dict[str, Any]:
    email = email.strip().lower()
    hosted = list(session.scalars(select(m.Internship.title).where(m.Internship.host_contact_email == email)))
    return {"internship_interests": export_interests(session, email), "internship_host_contact_for": hosted}


def erase(session: Session, email: str) -> int:
    """Returns how many records changed."""
    email = email.strip().lower()
    removed = erase_interests(session, email)
    result = session.execute(
        update(m.Internship)
        .where(m.Internship.host_contact_email == email)
        .values(host_contact_email="", host_contact_name="")
        .execution_options(synchronize_session=False)
    )
    return removed + (result.rowcount or 0)
