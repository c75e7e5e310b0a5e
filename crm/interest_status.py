"""The one rule for moving a person's interest to a new status and telling them, shared by internships (registrations
of interest) and involvement (expressions of interest).

A status changes only when it differs; the person is emailed only when the one changing it asks, only for a status
worth an email, and at most once per status (``notified_status`` remembers the last one they were told, and the
domain's ``tell`` queues the email under an idempotency key); the change goes in the owner's history naming the
interest by number, never the person. Each domain keeps its own wording, statuses and email.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy.orm import Session

from crm import audit
from crm.accounts.principal import Principal


@dataclasses.dataclass(frozen=True, slots=True)
class StatusChange:
    changed: bool
    notified: bool
    status: Any  # the domain's status enum


@dataclasses.dataclass(frozen=True, slots=True)
class Owner:
    """Where the change is recorded: the audit entity and id of what the interest belongs to, and the words."""

    entity: str
    entity_id: int
    noun: str  # "Registration of interest", "Expression of interest"
    emailed_key: str  # the audit change's name for "the person was emailed"


def apply(
    session: Session,
    interest: Any,
    status: enum.Enum,
    *,
    notify: bool,
    notifiable: Collection[enum.Enum],
    tell: Callable[[], bool],
    owner: Owner,
    by: Principal,
    now: dt.datetime,
) -> StatusChange:
    """Set ``interest.status`` (a row with ``status``, ``status_changed_at``, ``notified_status``, ``notified_at``)
    and, when asked and the status is ``notifiable``, call ``tell`` (which queues the email and says whether it did)."""
    before = interest.status
    changed = before != status
    if changed:
        interest.status = status
        interest.status_changed_at = now
    notified = False
    if notify and status in notifiable and interest.notified_status != status.value:
        notified = tell()
        if notified:
            interest.notified_status = status.value
            interest.notified_at = now
    if changed or notified:
        changes: dict[str, Any] = {"interest_status": [before.label, status.label]} if changed else {}  # type: ignore[attr-defined]
        if notified:
            changes[owner.emailed_key] = [None, True]
        audit.record(
            session,
            by,
            "interest status",
            owner.entity,
            owner.entity_id,
            summary=f"{owner.noun} #{interest.id}: {status.label}",  # type: ignore[attr-defined]
            changes=changes,
        )
    session.flush()
    return StatusChange(changed=changed, notified=notified, status=status)
