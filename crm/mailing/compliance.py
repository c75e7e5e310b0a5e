"""The bulk-email contract: unsubscribe and preference links, RFC 8058 headers, the compliance footer.

Every bulk (subscription or marketing) email carries:

- ``List-Unsubscribe: <https://…/u/TOKEN>, <mailto:…?subject=unsubscribe-TOKEN>`` and
  ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 2369, RFC 8058);
- a footer saying why the person gets it, with preference and unsubscribe links and the sender's postal address
  (``templates/email/_bulk.html`` and ``_bulk_footer.txt``).

Use ``crm.mailing.outbox.enqueue_bulk`` to queue one: it builds the headers and footer context and refuses an
email whose rendered parts lack the footer. Transactional emails (sign-in, confirmation) use ``enqueue``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from crm.settings import Settings
from crm.tokens import Signer

__all__ = [
    "bulk_context",
    "list_unsubscribe_headers",
    "preferences_url",
    "unsubscribe_payload",
    "unsubscribe_url",
]


def _base(settings: Settings) -> str:
    return settings.base_url.rstrip("/")


def unsubscribe_token(signer: Signer, email: str, mailing: str | None) -> str:
    """A non-expiring token naming the address and the mailing (None = every mailing)."""
    return signer.sign("unsubscribe", {"e": email.strip().lower(), "m": mailing})


def unsubscribe_payload(signer: Signer, token: str) -> tuple[str, str | None]:
    """``(email, mailing)`` from a token; raises ``crm.tokens.TokenError`` when tampered or foreign."""
    data = signer.verify("unsubscribe", token)
    if not isinstance(data, dict) or not isinstance(data.get("e"), str):
        from crm.tokens import TokenError

        raise TokenError("This link is not valid. It may have been changed or cut short.")
    mailing = data.get("m")
    return data["e"], mailing if isinstance(mailing, str) else None


def unsubscribe_url(signer: Signer, settings: Settings, email: str, mailing: str | None) -> str:
    return f"{_base(settings)}/u/{unsubscribe_token(signer, email, mailing)}"


def preferences_token(signer: Signer, email: str) -> str:
    return signer.sign("preferences", {"e": email.strip().lower()})


def preferences_url(signer: Signer, settings: Settings, email: str) -> str:
    return f"{_base(settings)}/preferences/{preferences_token(signer, email)}"


def list_unsubscribe_headers(signer: Signer, settings: Settings, email: str, mailing: str | None) -> dict[str, str]:
    token = unsubscribe_token(signer, email, mailing)
    https = f"{_base(settings)}/u/{token}"
    values = [f"<{https}>"]
    if settings.unsubscribe_mailto:
        values.append(f"<mailto:{settings.unsubscribe_mailto}?subject={quote('unsubscribe ' + token)}>")
    return {"List-Unsubscribe": ", ".join(values), "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def bulk_context(signer: Signer, settings: Settings, email: str, mailing: str | None, why: str) -> dict[str, Any]:
    """What the compliance footer needs: links, the reason the person gets this email, the postal address."""
    if not why or not why.strip():
        raise ValueError("a bulk email must say why the recipient gets it")
    return {
        "unsubscribe_url": unsubscribe_url(signer, settings, email, mailing),
        "unsubscribe_all_url": unsubscribe_url(signer, settings, email, None),
        "preferences_url": preferences_url(signer, settings, email),
        "why_text": why.strip(),
        "postal_address": settings.mail_postal_address,
        "bulk_mailing": mailing,
    }


REQUIRED_FOOTER_KEYS = ("unsubscribe_url", "preferences_url", "why_text", "postal_address")
