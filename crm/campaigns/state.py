"""A campaign's life in one place: which states may be edited, scheduled, sent or cancelled, and the one
transition into "sending" that makes a second press of "send" harmless.

Every page, the API and the worker ask these functions; none decides for itself.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.orm import Session

from crm import models as m
from crm.errors import FieldErrors

S = m.CampaignStatus
EDITABLE = frozenset({S.DRAFT, S.SCHEDULED})  # a scheduled campaign may still be corrected before its time
SENDABLE = frozenset({S.DRAFT, S.SCHEDULED})
CANCELLABLE = frozenset({S.SCHEDULED})  # cancelling a scheduled send returns it to draft
STARTED = frozenset({S.SENDING, S.SENT})

LABELS = {
    S.DRAFT: "Draft",
    S.SCHEDULED: "Scheduled",
    S.SENDING: "Sending",
    S.SENT: "Sent",
    S.CANCELLED: "Cancelled",
}


def is_editable(campaign: m.Campaign) -> bool:
    return campaign.status in EDITABLE


def ensure_editable(campaign: m.Campaign) -> None:
    """Refuse a change to a campaign that has started sending: what went out must stay what the record says."""
    if not is_editable(campaign):
        raise FieldErrors(
            {
                "campaign": f"This campaign is {LABELS[campaign.status].lower()} and can no longer be changed. "
                "Duplicate it to write a new one."
            }
        )


def begin_sending(session: Session, campaign_id: int, now: dt.datetime, *, due_only: bool = False) -> bool:
    """Move a draft or scheduled campaign to "sending" in one conditional UPDATE; False when it had already left
    those states (a second press, a second worker, a cancel that came first). ``due_only`` takes a scheduled
    campaign only once its time has come (the worker)."""
    statement = (
        update(m.Campaign)
        .where(m.Campaign.id == campaign_id, m.Campaign.status.in_(SENDABLE))
        .values(status=S.SENDING, started_at=now, updated_at=now)
    )
    if due_only:
        statement = statement.where(m.Campaign.status == S.SCHEDULED, m.Campaign.send_at <= now)
    return session.execute(statement).rowcount == 1
