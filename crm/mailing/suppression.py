"""The suppression list: who may not be mailed, and the two forms an address is suppressed under — plain
lower-cased, and ``sha256:<hex>`` once the person was erased (UK GDPR), so an erased address stays suppressed
without being stored. Every suppression check goes through these helpers."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.listing import ListParams, Page, SortOption, Sorts, fetch_page

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


def active_suppression(session: Session, email: str) -> m.Suppression | None:
    """The active suppression of ``email`` in plain or erased (hashed) form."""
    return session.scalar(
        select(m.Suppression)
        .where(m.Suppression.address.in_(suppression_forms(email)), m.Suppression.lifted_at.is_(None))
        .order_by(m.Suppression.id)
        .limit(1)
    )


def is_hard_suppressed(session: Session, email: str) -> bool:
    s = active_suppression(session, email)
    return s is not None and s.reason != "unsubscribed"


def can_receive_bulk(session: Session, email: str) -> bool:
    """False when the address is on the suppression list for any reason (for callers outside subscriptions)."""
    return active_suppression(session, email) is None


def suppress(
    session: Session, email: str, reason: str, source: str, note: str = "", now: dt.datetime | None = None
) -> bool:
    """Add (or re-activate) a suppression; returns False when the address was already suppressed."""
    now = now or dt.datetime.now(dt.UTC)
    email = email.strip().lower()
    row = session.scalar(select(m.Suppression).where(m.Suppression.address == email))
    if row is None:
        session.add(m.Suppression(address=email, reason=reason, source=source, note=note[:500], created_at=now))
        session.flush()
        return True
    if row.lifted_at is None:
        if reason != "unsubscribed" and row.reason == "unsubscribed":
            row.reason = reason  # a bounce/complaint outranks an unsubscribe
            row.source = source
        return False
    row.lifted_at = None
    row.reason = reason
    row.source = source
    row.note = note[:500]
    row.created_at = now
    return True


# --- the admin list ------------------------------------------------------------------------------------------------

S = m.Suppression
LIST_SORTS = Sorts(
    # By the date shown ("Since"): an address suppressed again after a lift keeps its id with a new date.
    SortOption("-since", "Newest first", S.created_at, descending=True),
    SortOption("address", "Address", S.address),
)
LIST_FILTERS = ("show",)


def list_page(session: Session, params: ListParams) -> Page:
    """One page of /admin/suppressions: keyset-paged (one statement, one more for the capped count) at any size, so
    an old bounce is reachable, not cut off after the newest 200. ``q`` finds an address by part of it, and a whole
    address also finds its erased (hashed) form, the only one kept after erasure. Active entries unless the ``show``
    filter is ``all``."""
    query = select(S.id, S.address, S.reason, S.source, S.note, S.created_at, S.lifted_at)
    if params.filters.get("show") != "all":
        query = query.where(S.lifted_at.is_(None))
    if q := normalise(params.q):
        query = query.where(or_(S.address.contains(q, autoescape=True), S.address == address_hash(q)))
    return fetch_page(session, query, params, LIST_SORTS, id_column=S.id, count=True)
