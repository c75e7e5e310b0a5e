"""Settling sends whose outcome was never recorded: the dispatcher was killed, or the provider's answer was lost.

The dispatcher records each provider request's outcome as soon as the provider answers, so after a ``kill -9``
only the requests in flight are unknown. While claimed, a row is ``sending`` and its ``last_error`` says how far
it got:

- ``CLAIMED``: claimed but not yet handed to the transport (the batch prepared while the previous one is with the
  provider). If its lease runs out it was never sent: it goes straight back to the queue, the attempt not counted.
- ``HANDED``: handed to the transport, outcome not yet recorded. If its lease runs out it may have reached the
  provider: it becomes ``ambiguous`` and waits ``SETTLE_AFTER`` for a provider event. Any SendGrid Event Webhook
  event that carries our outbox id (processed, delivered, deferred, dropped, bounce, ...) settles it as sent
  (``crm.mailing.webhooks``). Still unsettled after the wait, it goes back to ``retry``: a duplicate if the
  provider had in fact accepted it, so without the webhook a crash can repeat at most the requests in flight.

Every decision is logged on ``crm.mail.dispatch`` with the outbox ids and written to the row's ``last_error``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import NamedTuple

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from crm import models as m
from crm.settings import Settings

log = logging.getLogger("crm.mail.dispatch")

# A batch must be answered within the lease, or another dispatcher's settle() takes it for lost.
LEASE = dt.timedelta(minutes=10)
# How long an ambiguous send waits for a provider event before it is sent again (docs/mailing.md).
SETTLE_AFTER = dt.timedelta(minutes=15)
CLAIMED = "claimed: not yet handed to the provider"
HANDED = "handed to the provider: outcome not yet recorded"


class Settled(NamedTuple):
    requeued: int  # claimed but never handed to the provider: due again at once
    ambiguous: int  # handed to the provider, no outcome recorded: now waiting for a provider event
    retried: int  # ambiguous with no provider event within SETTLE_AFTER: due again (may duplicate)


def id_ranges(ids: list[int], limit: int = 12) -> str:
    """Outbox ids for a log line, as ranges ("101-1100, 1203"), so thousands of ids stay one readable line."""
    spans: list[list[int]] = []
    for i in sorted(ids):
        if spans and i == spans[-1][1] + 1:
            spans[-1][1] = i
        else:
            spans.append([i, i])
    text = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in spans[:limit])
    return text + (f" and {len(spans) - limit} more ranges" if len(spans) > limit else "")


def events_missing(settings: Settings | None) -> str:
    """Why no provider event can settle an ambiguous send ("" when the signed SendGrid webhook is configured)."""
    if settings is None:
        return ""
    if settings.mail_transport != "sendgrid":
        return f"the {settings.mail_transport} transport has no delivery events"
    if not settings.sendgrid_webhook_public_key:
        return "the SendGrid Event Webhook is not configured (CRM_SENDGRID_WEBHOOK_PUBLIC_KEY is empty)"
    return ""


def _locked_in_order(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    """The rows matching ``conditions``, locked in id order before they are written (PostgreSQL; SQLite locks the
    whole database). An UPDATE locks rows in whatever order its plan reads them, so two settlers could each hold a
    row the other waits for; in one order they wait instead. A writer that reads in another order (the hand-off's
    join, the recorder's id list) can still deadlock with a settler: ``crm.db.retrying`` runs the victim again."""
    table = m.OutboxMessage.__table__
    return table.c.id.in_(select(table.c.id).where(*conditions).order_by(table.c.id).with_for_update())


def settle(session: Session, now: dt.datetime, settings: Settings | None = None) -> Settled:
    """Return expired claims to the queue or to ``ambiguous``, and ambiguous sends no provider event settled within
    ``SETTLE_AFTER`` to ``retry``; log and record each decision."""
    table = m.OutboxMessage.__table__
    expired = (table.c.status == m.OutboxStatus.SENDING, table.c.lease_until < now)
    requeued = list(
        session.scalars(
            update(table)
            .where(_locked_in_order(*expired, table.c.last_error == CLAIMED))
            .values(
                status=m.OutboxStatus.RETRY,
                next_attempt_at=now,
                lease_until=None,
                attempts=table.c.attempts - 1,
                last_error="returned to the queue: the dispatcher stopped before handing it to the provider",
            )
            .returning(table.c.id)
        )
    )
    if requeued:
        log.warning(
            "%d outbox rows claimed by a dispatcher that stopped before sending them are due again (never sent): %s",
            len(requeued),
            id_ranges(requeued),
        )
    deadline = now + SETTLE_AFTER
    ambiguous = list(
        session.scalars(
            update(table)
            .where(_locked_in_order(*expired))
            .values(
                status=m.OutboxStatus.AMBIGUOUS,
                next_attempt_at=deadline,
                lease_until=None,
                last_error=(
                    "the dispatcher stopped before recording the provider's answer; waiting until "
                    f"{deadline:%Y-%m-%d %H:%M} UTC for a provider event before sending again"
                ),
            )
            .returning(table.c.id)
        )
    )
    if ambiguous:
        log.warning(
            "%d outbox rows were handed to the provider with no outcome recorded: ambiguous, waiting %d min for a "
            "provider event: %s",
            len(ambiguous),
            SETTLE_AFTER // dt.timedelta(minutes=1),
            id_ranges(ambiguous),
        )
    missing = events_missing(settings)
    why = f"no provider event within {SETTLE_AFTER // dt.timedelta(minutes=1)} min"
    retried = list(
        session.scalars(
            update(table)
            .where(_locked_in_order(table.c.status == m.OutboxStatus.AMBIGUOUS, table.c.next_attempt_at <= now))
            .values(
                status=m.OutboxStatus.RETRY,
                next_attempt_at=now,
                last_error=f"{why}: sending again (a duplicate if the first send reached the provider)"
                + (f"; {missing}" if missing else ""),
            )
            .returning(table.c.id)
        )
    )
    if retried:
        log.warning(
            "%d ambiguous outbox rows had %s: sending again, a duplicate for any the provider had accepted%s: %s",
            len(retried),
            why,
            f" ({missing})" if missing else "",
            id_ranges(retried),
        )
    return Settled(len(requeued), len(ambiguous), len(retried))
