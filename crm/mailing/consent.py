"""The consent log: the statement people agree to, how each consent event happened, and the one function that
appends an entry (append-only; every subscribe, confirm, change, pause and unsubscribe writes one)."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy.orm import Session

from crm import models as m

# The consent statement shown on the form. A new wording gets a new version; old versions stay here so the
# consent log's version always resolves to the exact text the person saw.
CONSENT_TEXTS: dict[str, str] = {
    "2026-11-v1": (
        "I would like Roundtable to email me the mailings I have chosen. I can change what I receive or "
        "unsubscribe at any time using the link in every email. Roundtable keeps a record of this consent."
    ),
}
CONSENT_VERSION = "2026-11-v1"


@dataclasses.dataclass(frozen=True, slots=True)
class How:
    """How a consent event happened: the mechanism, the page, the request's IP and user agent, and who acted."""

    mechanism: str = "web form"
    source_url: str = ""
    ip: str = ""
    user_agent: str = ""
    actor: str = "subscriber"


def log_consent(
    session: Session,
    sub: m.Subscription | None,
    email: str,
    action: m.ConsentAction,
    how: How,
    *,
    mailings: list[str] | None = None,
    topics: list[str] | None = None,
    regions: list[str] | None = None,
    version: str = "",
    detail: dict[str, Any] | None = None,
) -> m.ConsentEntry:
    """Append one entry; mailings, topics and regions default to what ``sub`` holds now (loaded)."""
    entry = m.ConsentEntry(
        subscription_id=sub.id if sub else None,
        email=email,
        action=action,
        mechanism=how.mechanism[:80],
        source_url=how.source_url[:500],
        ip=how.ip[:64],
        user_agent=how.user_agent[:500],
        actor=how.actor[:320],
        consent_version=version,
        mailings=list(mailings if mailings is not None else (sub.mailings if sub else [])),
        topics=topics if topics is not None else ([t.slug for t in sub.topics] if sub else []),
        regions=regions if regions is not None else ([r.slug for r in sub.regions] if sub else []),
        detail=detail or {},
    )
    session.add(entry)
    return entry
