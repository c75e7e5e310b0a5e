"""What every transport receives and returns; transports know nothing of the database."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
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


class Transport(Protocol):
    name: str

    def send_many(self, emails: list[OutgoingEmail]) -> list[SendResult]:
        """Send a batch; one result per email, in order."""
        ...
