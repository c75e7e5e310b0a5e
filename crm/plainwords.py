"""Internal values in the fellow's words, for pages: ``funding_digest`` is "Funding-call digest", ``weekly`` is
"Weekly". Templates use them as the ``plain`` and ``mailings`` filters, so no page shows a stored key."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

from crm.models.mailing import MAILING_LABELS, Mailing

_MAILINGS = {m.value: label for m, label in MAILING_LABELS.items()}
_ACRONYMS = {"vcse": "VCSE", "nhs": "NHS", "api": "API", "csv": "CSV", "rsvp": "RSVP"}
# Keys whose words alone would not say what they are (kinds of email, by their template's name).
_WORDS = {
    "sign_in": "Sign-in link",
    "subscription_confirm": "Subscription confirmation",
    "subscription_manage": "Link to manage a subscription",
    "event_offer": "Event place offered (waitlist)",
}


def plain(value: Any) -> str:
    """An enum member or stored key as words: a mailing's own label, else "under_review" -> "Under review"."""
    if value is None:
        return ""
    raw = str(value.value if isinstance(value, enum.Enum) else value)
    if raw in _MAILINGS:
        return _MAILINGS[raw]
    if raw in _WORDS:
        return _WORDS[raw]
    words = [_ACRONYMS.get(w.lower(), w) for w in raw.replace("_", " ").replace("-", " ").split()]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def mailing_names(keys: Iterable[Any] | None) -> str:
    """ "Funding-call digest, Event news" for a subscription's stored mailings (unknown keys in plain words)."""
    return ", ".join(plain(Mailing(k) if k in _MAILINGS else k) for k in keys or ())
