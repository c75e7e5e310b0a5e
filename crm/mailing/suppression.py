"""The two forms an address can be suppressed under: plain lower-cased, and ``sha256:<hex>`` once the person
was erased (UK GDPR) — so an erased address stays suppressed without being stored. Every suppression check
goes through these helpers."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

HASH_PREFIX = "sha256:"


def normalise(email: str) -> str:
    return (email or "").strip().lower()


def address_hash(email: str) -> str:
    """The one-way form stored after erasure: ``sha256:`` + hex digest of the lower-cased, trimmed address."""
    return HASH_PREFIX + hashlib.sha256(normalise(email).encode("utf-8")).hexdigest()


def suppression_forms(email: str) -> tuple[str, str]:
    return normalise(email), address_hash(email)


def forms_by_key(emails: Iterable[str]) -> dict[str, str]:
    """Every stored form (plain and hashed) -> the plain address it stands for, for set-based lookups."""
    keys: dict[str, str] = {}
    for email in emails:
        plain, hashed = suppression_forms(email)
        keys[plain] = plain
        keys[hashed] = plain
    return keys
