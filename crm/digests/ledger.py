"""The delivery ledger's item lists: one ``digest_deliveries`` row per digest queued holds the items it carried as
``kind:id,kind:id`` text (``m.DigestDelivery.items``).

Text, not a child table or an array column: the builder reads a subscriber's rows with the same comma-separated
aggregate it uses for topics and hidden items (``crm.digests.batch``), both databases store it alike, and a digest
writes one row. Kinds are the sections' ``ledger_kind`` words (letters and underscores), ids are integers, so
neither separator can occur inside an item.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m

Item = tuple[str, int]


def items_text(items: Iterable[Item]) -> str:
    """The stored form of a digest's items, in the order given."""
    return ",".join(f"{kind}:{item_id}" for kind, item_id in items)


def parse_items(text: str | None) -> list[Item]:
    """A row's items; a part that is not ``kind:integer`` is skipped (nothing the builder wrote)."""
    out: list[Item] = []
    for part in (text or "").split(","):
        kind, sep, value = part.partition(":")
        if sep and kind and value.isdigit():
            out.append((kind, int(value)))
    return out


def delivered(session: Session, *, period: str | None = None) -> list[tuple[int, str, int]]:
    """Every (subscription id, kind, item id) the ledger holds (of one period, or all): what each subscriber was
    sent, item by item, for checks, exports and tests. Reads the whole table: not for a hot path."""
    L = m.DigestDelivery
    query = select(L.subscription_id, L.items).order_by(L.id)
    if period is not None:
        query = query.where(L.period == period)
    return [(sid, kind, item_id) for sid, text in session.execute(query) for kind, item_id in parse_items(text)]
