"""Involvement on an organisation's admin page (plugged in by ``crm.directory.sections``): the involvement
opportunities it offers, the consultation requests it was sent and how it answered, and the record of involvement
with it (totals and the latest records). Four statements, whatever the organisation's history.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.extensions import Section
from crm.involvement import records


def admin_sections(session: Session, organisation_id: int) -> list[Section]:
    """One "Involvement" section; it says plainly when there is nothing yet, and how to add a record."""
    opp = m.InvolvementOpportunity
    opportunities = list(
        session.execute(
            select(opp.id, opp.title, opp.status, opp.closing_date)
            .where(opp.organisation_id == organisation_id)
            .order_by(opp.closes_at.desc(), opp.id.desc())
            .limit(20)
        )
    )
    cr, rq = m.ConsultationRecipient, m.ConsultationRequest
    answers = list(
        session.execute(
            select(rq.id, rq.title, rq.status, cr.answer, cr.answered_at, cr.sent_at)
            .join(rq, rq.id == cr.request_id)
            .where(cr.organisation_id == organisation_id)
            .order_by(cr.sent_at.desc(), cr.id.desc())
            .limit(20)
        )
    )
    involvement = records.for_owner(session, organisation_id=organisation_id)
    return [
        Section(
            title="Involvement",
            template="admin/involvement/records_org_section.html",
            context={
                "organisation_id": organisation_id,
                "opportunities": opportunities,
                "answers": answers,
                "involvement": involvement,
            },
        )
    ]
