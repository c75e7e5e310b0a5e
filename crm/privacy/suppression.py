"""Suppressions that survive erasure: an erased address is kept only as ``sha256:<hex>`` of its lower-cased form.

The mailing domain's checks compare plain lower-cased addresses; ``is_suppressed`` checks both forms and is
what every sender should call (one indexed statement).
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m

HASH_PREFIX = "sha256:"


def normalise(email: str) -> str:
    return (email or "").strip().lower()


def address_hash(email: str) -> str:
    """The one-way form stored after erasure: ``sha256:`` + hex digest of the lower-cased, trimmed address."""
    return HASH_PREFIX + hashlib.sha256(normalise(email).encode("utf-8")).hexdigest()


def suppression_forms(email: str) -> tuple[str, str]:
    """Both forms an address may be suppressed under: plain lower-cased and hashed."""
    return normalise(email), address_hash(email)


def active_suppression(session: Session, email: str) -> m.Suppression | None:
    """The active suppression for ``email`` in either form (plain or erased-and-hashed), or None."""
    return session.scalar(
        select(m.Suppression)
        .where(m.Suppression.address.in_(suppression_forms(email)), m.Suppression.lifted_at.is_(None))
        .limit(1)
    )


def is_suppressed(session: Session, email: str) -> bool:
    return active_suppression(session, email) is not None
