"""Internship sections on an organisation's page (plugged in by ``crm.directory.sections``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.extensions import Section
from crm.internships.services import stipend_label

I = m.Internship  # noqa: E741


def public_sections(session: Session, organisation_id: int, *, now: dt.datetime | None = None) -> list[Section]:
    """Open internships this organisation hosts (none → no section)."""
    now = now or dt.datetime.now(dt.UTC)
    rows = list(
        session.execute(
            select(I.id, I.title, I.slug, I.paid, I.stipend_pence, I.stipend_period, I.closing_date, I.mode)
            .where(
                I.host_organisation_id == organisation_id, I.status == m.InternshipStatus.PUBLISHED, I.closes_at > now
            )
            .order_by(I.closes_at, I.id)
            .limit(20)
        )
    )
    if not rows:
        return []
    return [
        Section(
            title="Internships",
            template="public/internship_org_section.html",
            context={"internships": rows, "stipend": stipend_label},
        )
    ]


def admin_sections(session: Session, organisation_id: int) -> list[Section]:
    """Every listing of this organisation with its status and number of registrations of interest."""
    counts: Any = (
        select(func.count(m.InternshipInterest.id))
        .where(m.InternshipInterest.internship_id == I.id)
        .correlate(I)
        .scalar_subquery()
    )
    rows = list(
        session.execute(
            select(I.id, I.title, I.status, I.closing_date, counts.label("interest_count"))
            .where(I.host_organisation_id == organisation_id)
            .order_by(I.closes_at.desc(), I.id.desc())
            .limit(50)
        )
    )
    return [
        Section(
            title="Internships",
            template="admin/internship_org_section.html",
            context={"internships": rows, "organisation_id": organisation_id},
        )
    ]
