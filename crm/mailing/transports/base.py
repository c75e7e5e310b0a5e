"""What every transport receives and returns; transports know nothing of the database."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Callable
from typing import Any, Protocol


@dataclasses.dataclass(frozen=True, slots=True)
class OutgoingEmail:
    outbox_id: int
    kind: str
    to: str
    to_name: str
    subject: str
    text: str
    html: str
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    attachments: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    bulk: bool = False
    # The provider's own open/click tracking for this message ({"opens", "clicks"}; campaigns that ask for it).
    # Never a header and never in the stored copy: SendGrid turns it into tracking_settings, SMTP ignores it.
    tracking: frozenset[str] = frozenset()
    # The From display name for this message ("" = the site's, from CRM_MAIL_FROM); the address never changes.
    from_name: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class SendOptions:
    """What a deferred renderer may ask of the transport for one message besides its parts and headers: returned
    as a third element, ``(RenderedEmail, headers, SendOptions)``; the dispatcher copies it onto ``OutgoingEmail``."""

    tracking: frozenset[str] = frozenset()
    from_name: str = ""


class SendOutcome(enum.StrEnum):
    SENT = "sent"
    RETRY = "retry"  # transient: try again later
    FAILED = "failed"  # permanent: keep the error, never retry
    AMBIGUOUS = "ambiguous"  # the request may have reached the provider: settle later, never blindly resend
    HALT = "halt"  # credentials refused: stop this tick and alert


@dataclasses.dataclass(frozen=True, slots=True)
class SendResult:
    outcome: SendOutcome
    provider_message_id: str = ""
    error: str = ""
    retry_at: dt.datetime | None = None


# Called by a transport as soon as a group of outcomes is final (one provider request, or a few SMTP messages), so
# the dispatcher can record them before the rest of the batch is sent: a crash then leaves ambiguous only what
# was in flight. It may be called from several threads at once; the dispatcher serialises the writes.
Report = Callable[[list[tuple[OutgoingEmail, SendResult]]], None]


class Transport(Protocol):
    name: str

    def send_many(self, emails: list[OutgoingEmail], report: Report | None = None) -> list[SendResult]:
        """Send a batch; one result per email, in order.

        With ``report``, every email's outcome is also passed to ``report`` exactly once, before this returns, as
        soon as it is known (the returned list repeats them). A transport that cannot report early reports
        everything at the end.
        """
        ...
