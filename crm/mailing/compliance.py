"""The bulk-email contract: unsubscribe and preference links, RFC 8058 headers, the compliance footer.

Every bulk (subscription or marketing) email carries:

- ``List-Unsubscribe: <https://…/u/TOKEN>, <mailto:…?subject=unsubscribe-TOKEN>`` and
  ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 2369, RFC 8058);
- a footer saying why the person gets it, with preference and unsubscribe links and the sender's postal address
  (``templates/email/_bulk.html`` and ``_bulk_footer.txt``).

Each email's unsubscribe link names the *stream* the email belongs to, so that one click stops exactly what the
reader is reading: ``"digest"`` (every future digest, whatever sections it would hold: withdrawing it withdraws
every mailing a digest is built from, ``DIGEST_MAILINGS``), a mailing name for emails of one mailing (event
emails: ``"event_news"``), or None for everything. Links sent before streams existed named the digest's first
mailing; ``unsubscribe_payload`` reads those as the digest stream (only digests ever carried them).

Use ``crm.mailing.outbox.enqueue_bulk`` to queue one: it builds the headers and footer context and refuses an
email whose rendered parts lack the footer. Transactional emails (sign-in, confirmation) use ``enqueue``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from crm import models as m
from crm.settings import Settings
from crm.tokens import Signer

__all__ = [
    "CONTACT_STREAM",
    "DIGEST_MAILINGS",
    "DIGEST_STREAM",
    "bulk_context",
    "list_unsubscribe_for",
    "list_unsubscribe_headers",
    "preferences_url",
    "stream_label",
    "unsubscribe_payload",
    "unsubscribe_url",
]


DIGEST_STREAM = "digest"
# Campaign emails to directory contacts (legitimate interest, not a subscription): their own stream, so one click
# stops the fellow's emails to that address and nothing else (issue 16). Campaigns to subscribers use a mailing.
CONTACT_STREAM = "from_the_fellow"
# The mailings a digest is built from (a test checks this equals crm.digests.sections.DIGEST_MAILINGS; mailing
# sits below the digests domain, so it cannot import it).
DIGEST_MAILINGS = frozenset(
    {
        m.Mailing.FUNDING_DIGEST.value,
        m.Mailing.INTERNSHIP_ALERTS.value,
        m.Mailing.EVENT_NEWS.value,
        m.Mailing.NEWS.value,  # the digest's News section (issue 16)
    }
)
# Mailings that only ever appeared in digests' links before the digest stream existed (``primary_mailing``):
# such a link was in a digest, so it stops the digest. ``event_news`` links also came from event emails, so
# they keep meaning that one mailing.
LEGACY_DIGEST_TOKENS = frozenset({"funding_digest", "internship_alerts"})


def stream_label(stream: str | None) -> str:
    """What an unsubscribe link stops, in words ("" = everything)."""
    if stream is None:
        return ""
    if stream == DIGEST_STREAM:
        return "the Roundtable digest"
    if stream == CONTACT_STREAM:
        return "emails from the Roundtable fellow"
    try:
        return m.Mailing(stream).label
    except ValueError:
        return stream


def _base(settings: Settings) -> str:
    return settings.base_url.rstrip("/")


def unsubscribe_token(signer: Signer, email: str, mailing: str | None) -> str:
    """A non-expiring token naming the address and the stream (``"digest"``, a mailing, or None = everything)."""
    return signer.sign("unsubscribe", {"e": email.strip().lower(), "m": mailing})


def unsubscribe_payload(signer: Signer, token: str) -> tuple[str, str | None]:
    """``(email, stream)`` from a token (old digest links read as ``"digest"``); raises ``crm.tokens.TokenError`` when tampered or foreign."""
    data = signer.verify("unsubscribe", token)
    if not isinstance(data, dict) or not isinstance(data.get("e"), str):
        from crm.tokens import TokenError

        raise TokenError("This link is not valid. It may have been changed or cut short.")
    mailing = data.get("m")
    if not isinstance(mailing, str):
        return data["e"], None
    return data["e"], DIGEST_STREAM if mailing in LEGACY_DIGEST_TOKENS else mailing


def unsubscribe_url(signer: Signer, settings: Settings, email: str, mailing: str | None) -> str:
    return f"{_base(settings)}/u/{unsubscribe_token(signer, email, mailing)}"


def preferences_token(signer: Signer, email: str) -> str:
    return signer.sign("preferences", {"e": email.strip().lower()})


def preferences_url(signer: Signer, settings: Settings, email: str) -> str:
    return f"{_base(settings)}/preferences/{preferences_token(signer, email)}"


def list_unsubscribe_headers(signer: Signer, settings: Settings, email: str, mailing: str | None) -> dict[str, str]:
    return list_unsubscribe_for(settings, unsubscribe_token(signer, email, mailing))


def list_unsubscribe_for(settings: Settings, token: str) -> dict[str, str]:
    """The RFC 8058 headers for an unsubscribe token already signed (a renderer that also puts it in the footer
    signs it once)."""
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
