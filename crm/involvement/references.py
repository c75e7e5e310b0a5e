"""What in the involvement domain still uses an organisation (``crm.directory.references`` collects these).

Deleting an organisation would quietly lose involvement data: its opportunities and consultation requests would
lose who offered them and its records of involvement whom they were with (``SET NULL``), and the record that a
consultation request went to it, with its answer, would be deleted (``CASCADE``). So each is named in plain words on
the delete confirmation, which refuses while any remain; merging the organisation carries them over instead.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import models as m

SHOWN = 5  # named per kind; the rest are counted


def _count(session: Session, query: Any) -> int:
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def _more(session: Session, query: Any, shown: int, words: str) -> list[str]:
    """ "…and 3 more <words>" when ``query`` finds more rows than the ``shown`` ones named."""
    if shown < SHOWN:
        return []
    more = _count(session, query) - shown
    return [f"…and {more} more {words}"] if more > 0 else []


def references(session: Session, organisation_id: int) -> list[str]:
    """Plain reasons: the opportunities, consultation requests and records of involvement that name it."""
    Opp, CR, R = m.InvolvementOpportunity, m.ConsultationRequest, m.ConsultationRecipient
    reasons: list[str] = []

    offered = select(Opp.title).where(Opp.organisation_id == organisation_id)
    titles = list(session.scalars(offered.order_by(Opp.title, Opp.id).limit(SHOWN)))
    reasons += [f"Involvement opportunity “{t}” is offered by it" for t in titles]
    reasons += _more(session, offered, len(titles), "involvement opportunities are offered by it")

    asked = select(CR.title).where(CR.organisation_id == organisation_id)
    titles = list(session.scalars(asked.order_by(CR.title, CR.id).limit(SHOWN)))
    reasons += [f"Consultation request “{t}” is from it" for t in titles]
    reasons += _more(session, asked, len(titles), "consultation requests are from it")

    sent = select(CR.title, R.answer).join(R, R.request_id == CR.id).where(R.organisation_id == organisation_id)
    rows = list(session.execute(sent.order_by(CR.title, CR.id).limit(SHOWN)))
    for title, answer in rows:
        answered = "" if answer == m.ConsultationAnswer.NONE else " and it answered"
        reasons.append(f"Consultation request “{title}” was sent to it{answered}")
    reasons += _more(session, sent, len(rows), "consultation requests were sent to it")

    records = _count(
        session, select(m.InvolvementRecord.id).where(m.InvolvementRecord.organisation_id == organisation_id)
    )
    if records == 1:
        reasons.append("1 record of involvement names it")
    elif records:
        reasons.append(f"{records} records of involvement name it")
    return reasons
