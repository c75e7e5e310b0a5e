"""Signed tokens for every emailed link (itsdangerous, HMAC-SHA256, one salt per purpose, key rotation).

``secret_keys[0]`` signs; every key in the list verifies, so a key can be rotated without breaking links
already in people's inboxes. Each purpose has its own salt, so a token for one purpose never works for another.
"""

from __future__ import annotations

import hashlib
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
}


class TokenError(ValueError):
    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


class Signer:
    def __init__(self, settings: Settings) -> None:
        # itsdangerous signs with the last key and verifies with all: reverse so secret_keys[0] signs.
        self._keys = list(reversed(settings.secret_keys))

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        if purpose not in PURPOSES:
            raise KeyError(f"unknown token purpose {purpose!r}")
        return URLSafeTimedSerializer(
            self._keys, salt=f"crm.{purpose}", signer_kwargs={"digest_method": hashlib.sha256}
        )

    def sign(self, purpose: str, payload: Any) -> str:
        return self._serializer(purpose).dumps(payload)

    def verify(self, purpose: str, token: str, max_age: int | None = None) -> Any:
        max_age = PURPOSES[purpose] if max_age is None else max_age
        try:
            return self._serializer(purpose).loads(token, max_age=max_age)
        except SignatureExpired as exc:
            raise TokenError("This link has expired.", expired=True) from exc
        except BadSignature as exc:
            raise TokenError("This link is not valid. It may have been changed or cut short.") from exc
