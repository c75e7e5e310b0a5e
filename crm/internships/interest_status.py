"""Where each registration of interest stands (issue 20 item 9): new / contacted / shortlisted / declined /
offered, changed by the fellow and the host organisation's editors (admin page) or by the host (manage link).

When the one who changes it chooses to, the applicant is told by email (outbox, same transaction), kindly
worded, with the host's address as Reply-To; only shortlisted, declined and offered are news worth an email
("new" and "contacted" are not). An applicant is told of each status at most once (the idempotency key), so a
double click or a change back and forth never sends the same news twice. Every change is in the listing's history,
naming the registration by number, not by the applicant's name (personal data stays out of the audit trail).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from email.utils import formataddr
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import interest_status
from crm import models as m
from crm.accounts.principal import Principal
from crm.errors import FieldErrors, NotFound
from crm.interest_status import StatusChange
from crm.internships.rules import _bool, _text
from crm.mailing.outbox import enqueue
from crm.mailing.render import EmailRenderer

IS = m.InterestStatus
NOTIFIABLE = (IS.SHORTLISTED, IS.DECLINED, IS.OFFERED)
STATUS_HINT = "We email the applicant only for shortlisted, declined and offered, and only once for each."


def parse_status(raw: Mapping[str, Any]) -> tuple[m.InterestStatus, bool]:
    """The chosen status and whether to tell the applicant; ``FieldErrors`` for a status not in the list."""
    value = _text(raw.get("status"))
    if value not in {s.value for s in IS}:
        raise FieldErrors({"status": "Choose new, contacted, shortlisted, declined or offered."})
    return IS(value), _bool(raw.get("notify"))


def interest_rows(session: Session, internship_id: int) -> list[Any]:
    """The registrations of one listing (personal data: callers check who may see them)."""
    ii = m.InternshipInterest
    return list(
        session.execute(
            select(
                ii.id,
                ii.name,
                ii.email,
                ii.note,
                ii.created_at,
                ii.status,
                ii.status_changed_at,
                ii.notified_status,
                ii.notified_at,
            )
            .where(ii.internship_id == internship_id)
            .order_by(ii.id)
        )
    )


def change_status(
    session: Session,
    renderer: EmailRenderer,
    internship: m.Internship,
    interest_id: int,
    status: m.InterestStatus,
    *,
    notify: bool,
    by: Principal,
    base_url: str,
    now: dt.datetime,
) -> StatusChange:
    """Set a registration's status (it must belong to ``internship``: a link for one listing never reaches another's
    registrations) and, when asked and the status is news, email the applicant."""
    interest = session.get(m.InternshipInterest, interest_id)
    if interest is None or interest.internship_id != internship.id:
        raise NotFound("No such registration of interest for this listing.")
    return interest_status.apply(
        session,
        interest,
        status,
        notify=notify,
        notifiable=NOTIFIABLE,
        tell=lambda: _tell_applicant(session, renderer, internship, interest, status, base_url=base_url),
        owner=interest_status.Owner("internship", internship.id, "Registration of interest", "applicant_emailed"),
        by=by,
        now=now,
    )


def _tell_applicant(
    session: Session,
    renderer: EmailRenderer,
    internship: m.Internship,
    interest: m.InternshipInterest,
    status: m.InterestStatus,
    *,
    base_url: str,
) -> bool:
    host_name = session.scalar(select(m.Organisation.name).where(m.Organisation.id == internship.host_organisation_id))
    reply_to = (
        formataddr((internship.host_contact_name or host_name or "", internship.host_contact_email))
        if internship.host_contact_email
        else ""
    )
    queued = enqueue(
        session,
        renderer,
        key=f"internship-interest-status:{interest.id}:{status.value}",
        kind="internship_interest_status",
        to=interest.email,
        to_name=interest.name,
        headers={"Reply-To": reply_to} if reply_to else None,
        context={
            "name": interest.name,
            "status": status.value,
            "internship_title": internship.title,
            "host_name": host_name or "",
            "can_reply": bool(reply_to),
            "internship_url": f"{base_url.rstrip('/')}/internships/{internship.slug}",
            "more_url": f"{base_url.rstrip('/')}/internships",
        },
    )
    return queued is not None
