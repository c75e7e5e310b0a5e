"""Where each expression of interest stands (issue 18): new, contacted, selected, not selected — changed by the
fellow, by the editors who own the opportunity (admin page) and by a public poster through their signed manage link.

"Email the person the decision" is a choice the poster makes with the status: only selected and not selected are
decisions worth an email, it goes through the outbox in the same transaction, kindly worded, with the poster's
address as Reply-To, and a person is told each decision at most once (the idempotency key; ``notified_status`` and
``notified_at`` remember what they were last told, so the page can say so). Every change is in the opportunity's
history naming the expression of interest by number, never by the person's name: their data stays out of the audit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from email.utils import formataddr
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import interest_status
from crm import models as m
from crm.accounts.principal import Principal
from crm.errors import FieldErrors, NotFound
from crm.interest_status import StatusChange
from crm.mailing.outbox import enqueue
from crm.mailing.render import EmailRenderer

IS = m.InvolvementInterestStatus
DECISIONS = (IS.SELECTED, IS.NOT_SELECTED)
STATUS_HINT = "We email the person only when you choose to, only for selected or not selected, and only once for each."
REFUSED = "Choose new, contacted, selected or not selected."
ENTITY = "involvement_opportunity"


def parse_status(raw: Mapping[str, Any]) -> tuple[m.InvolvementInterestStatus, bool]:
    """The chosen status and whether to email the decision; ``FieldErrors`` for a status not in the list."""
    value = str(raw.get("status") or "").strip()
    if value not in {s.value for s in IS}:
        raise FieldErrors({"status": REFUSED})
    notify = str(raw.get("notify") or "").strip().lower() in {"1", "on", "true", "yes"}
    return IS(value), notify


def interest_rows(session: Session, opportunity_id: int) -> list[Any]:
    """The expressions of interest in one opportunity, oldest first (personal data: callers check who may see)."""
    ii = m.InvolvementInterest
    return list(
        session.execute(
            select(
                ii.id,
                ii.name,
                ii.email,
                ii.note,
                ii.access_needs,
                ii.source,
                ii.member_id,
                ii.created_at,
                ii.status,
                ii.status_changed_at,
                ii.notified_status,
                ii.notified_at,
            )
            .where(ii.opportunity_id == opportunity_id)
            .order_by(ii.id)
        )
    )


def status_counts(session: Session, opportunity_id: int) -> dict[str, int]:
    """How many expressions of interest are at each status (every status present, zero when none)."""
    ii = m.InvolvementInterest
    counts = {s.value: 0 for s in IS}
    rows = session.execute(
        select(ii.status, func.count()).where(ii.opportunity_id == opportunity_id).group_by(ii.status)
    )
    for status, n in rows:
        counts[IS(status).value] = int(n)
    return counts


def change_status(
    session: Session,
    renderer: EmailRenderer,
    opportunity: m.InvolvementOpportunity,
    interest_id: int,
    status: m.InvolvementInterestStatus,
    *,
    notify: bool,
    by: Principal,
    base_url: str,
    now: dt.datetime,
) -> StatusChange:
    """Set an expression of interest's status (it must belong to ``opportunity``: a link or page for one
    opportunity never reaches another's applicants) and, when asked and the status is a decision, email it."""
    interest = session.get(m.InvolvementInterest, interest_id)
    if interest is None or interest.opportunity_id != opportunity.id:
        raise NotFound("No such expression of interest for this opportunity.")
    return interest_status.apply(
        session,
        interest,
        status,
        notify=notify,
        notifiable=DECISIONS,
        tell=lambda: _tell_person(session, renderer, opportunity, interest, status, base_url=base_url),
        owner=interest_status.Owner(ENTITY, opportunity.id, "Expression of interest", "person_emailed"),
        by=by,
        now=now,
    )


def _organisation_name(session: Session, opportunity: m.InvolvementOpportunity) -> str:
    if opportunity.organisation_id is None:
        return ""
    return session.scalar(select(m.Organisation.name).where(m.Organisation.id == opportunity.organisation_id)) or ""


def _tell_person(
    session: Session,
    renderer: EmailRenderer,
    opportunity: m.InvolvementOpportunity,
    interest: m.InvolvementInterest,
    status: m.InvolvementInterestStatus,
    *,
    base_url: str,
) -> bool:
    """One email per decision per person (the idempotency key), replies going to the poster."""
    organisation = _organisation_name(session, opportunity)
    reply_to = (
        formataddr((opportunity.contact_name or organisation, opportunity.contact_email))
        if opportunity.contact_email
        else ""
    )
    base = base_url.rstrip("/")
    queued = enqueue(
        session,
        renderer,
        key=f"involvement:decision:{interest.id}:{status.value}",
        kind="involvement_decision",
        template="involvement/decision_email",
        to=interest.email,
        to_name=interest.name,
        headers={"Reply-To": reply_to} if reply_to else None,
        context={
            "name": interest.name,
            "selected": status == IS.SELECTED,
            "opportunity_title": opportunity.title,
            "organisation_name": organisation,
            "contact_name": opportunity.contact_name,
            "can_reply": bool(reply_to),
            "opportunity_url": f"{base}/involvement/{opportunity.slug}",
            "more_url": f"{base}/involvement",
            "network_url": f"{base}/involvement/network",
        },
    )
    return queued is not None
