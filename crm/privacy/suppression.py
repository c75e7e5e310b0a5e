"""Suppressions that survive erasure: an erased address is kept only as ``sha256:<hex>`` of its lower-cased form.

The mailing domain's checks compare plain lower-cased addresses; ``is_suppressed`` checks both forms and is
what every sender should call (one indexed statement).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.mailing.suppression import HASH_PREFIX, address_hash, normalise, suppression_forms

__all__ = ["HASH_PREFIX", "active_suppression", "address_hash", "is_suppressed", "normalise", "suppression_forms"]


def active_suppression(session: Session, email: str) -> m.Suppression | None:
    """The active suppression for ``email`` in either form (plain or erased-and-hashed), or None."""
    return session.scalar(
        select(m.Suppression)
        .where(m.Suppression.address.in_(suppression_forms(email)), m.Suppression.lifted_at.is_(None))
        .limit(1)
    )


def is_suppressed(session: Session, email: str) -> bool:
    return active_suppression(session, email) is not None
