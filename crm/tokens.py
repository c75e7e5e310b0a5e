"""Signed tokens for every emailed link (itsdangerous, HMAC-SHA256, one salt per purpose, key rotation).

``secret_keys[0]`` signs; every key in the list verifies, so a key can be rotated without breaking links
already in people's inboxes. Each purpose has its own salt, so a token for one purpose never works for another.

A digest carries ONE token (``Signer.digest_token``: subscription id and address, HMAC-SHA256 truncated to 128
bits, no timestamp) for all its links: unsubscribe from the digest, unsubscribe from everything (the same token
with ``~all``), preferences and every "not relevant" link. Signing 100,000 digests then costs one short HMAC each
instead of four itsdangerous signatures. ``verify`` reads it as the token of the purpose asked for
(``DIGEST_READS``); tokens issued before (itsdangerous, one per purpose) keep working unchanged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from crm.settings import Settings

# purpose -> max age in seconds (None = never expires)
PURPOSES: dict[str, int | None] = {
    "sign-in": 15 * 60,
    "confirm-subscription": 48 * 3600,
    "unsubscribe": None,
    "preferences": None,
    "rsvp": None,
    "not-relevant": None,
    "waitlist-offer": None,
    "internship-host": 60 * 24 * 3600,  # the host's "is this placement filled?" link
    "internship-manage": 180 * 24 * 3600,  # a host's private link to manage their listing (no account)
    # The lived experience network (issue 18): joining is confirmed within a week; a member's own link to change or
    # leave their membership never expires (like preferences); "I'm interested" links from an alert or the fellow's
    # invitation never expire either (a closed opportunity refuses them with a clear page).
    "involvement-network-confirm": 7 * 24 * 3600,
    "involvement-network": None,
    "involvement-interest": None,
    "involvement-invite": None,
    "involvement-answer": None,  # a group's link to answer a consultation request (it closes by itself)
    "involvement-manage": 180 * 24 * 3600,  # a public poster's private link to their opportunity (no account)
}
# What a digest token opens: exactly the links a digest shows (all of them never expire). The "~all" form is
# unsigned on purpose: it only widens "stop the digest" to "stop everything", which the same token already
# allows through the preference centre's "unsubscribe from everything".
DIGEST_READS = frozenset({"unsubscribe", "preferences", "not-relevant"})
DIGEST_STREAM = "digest"  # crm.mailing.compliance.DIGEST_STREAM (mailing sits above tokens)
EVERYTHING_SUFFIX = "~all"
INVALID = "This link is not valid. It may have been changed or cut short."


class TokenError(ValueError):
    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(self, settings: Settings) -> None:
        # itsdangerous signs with the last key and verifies with all: reverse so secret_keys[0] signs.
        self._keys = list(reversed(settings.secret_keys))
        # One keyed HMAC per secret for digest tokens (a key derived so no other purpose's key is reused), copied
        # per token: cheaper than setting the key up again.
        self._digest_macs = [
            hmac.new(hmac.digest(key.encode(), b"crm.digest", "sha256"), digestmod=hashlib.sha256)
            for key in settings.secret_keys
        ]

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        if purpose not in PURPOSES:
            raise KeyError(f"unknown token purpose {purpose!r}")
        return URLSafeTimedSerializer(
            self._keys, salt=f"crm.{purpose}", signer_kwargs={"digest_method": hashlib.sha256}
        )

    def sign(self, purpose: str, payload: Any) -> str:
        return self._serializer(purpose).dumps(payload)

    def digest_token(self, subscription_id: int, email: str) -> str:
        """The one token of a digest's links (see the module docstring); a few microseconds."""
        body = _b64(f"{subscription_id}:{email.strip().lower()}".encode())
        mac = self._digest_macs[0].copy()
        mac.update(body.encode("ascii"))
        return f"{body}.{_b64(mac.digest()[:16])}"

    def verify(self, purpose: str, token: str, max_age: int | None = None) -> Any:
        if purpose in DIGEST_READS and token.count(".") == 1:  # itsdangerous tokens have two dots
            return self._digest_payload(purpose, token)
        max_age = PURPOSES[purpose] if max_age is None else max_age
        try:
            return self._serializer(purpose).loads(token, max_age=max_age)
        except SignatureExpired as exc:
            raise TokenError("This link has expired.", expired=True) from exc
        except BadSignature as exc:
            raise TokenError(INVALID) from exc

    def _digest_payload(self, purpose: str, token: str) -> dict[str, Any]:
        """A digest token read as ``purpose``'s payload: ``{"e", "m"}``, ``{"e"}`` or ``{"s"}``."""
        if not token.isascii():
            raise TokenError(INVALID)
        everything = token.endswith(EVERYTHING_SUFFIX)
        if everything:
            token = token[: -len(EVERYTHING_SUFFIX)]
        body, _, signature = token.partition(".")
        try:
            given = _unb64(signature)
            sub_id, _, email = _unb64(body).decode("utf-8").partition(":")
        except (binascii.Error, ValueError) as exc:
            raise TokenError(INVALID) from exc
        for prepared in self._digest_macs:
            mac = prepared.copy()
            mac.update(body.encode("ascii"))
            if hmac.compare_digest(mac.digest()[:16], given):
                break
        else:
            raise TokenError(INVALID)
        if not sub_id.isdigit() or not email or (everything and purpose != "unsubscribe"):
            raise TokenError(INVALID)
        if purpose == "unsubscribe":
            return {"e": email, "m": None if everything else DIGEST_STREAM}
        if purpose == "preferences":
            return {"e": email}
        return {"s": int(sub_id)}
