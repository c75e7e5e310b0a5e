"""What a digest batch reads: the active subscriptions of a frequency in an id range, each with what every section
needs to know about them, as one query (correlated aggregates), and the per-subscriber view built from a row."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from sqlalchemy import String, Text, cast, select, type_coerce
from sqlalchemy.orm import Session

from crm import models as m
from crm.digests.sections import SECTIONS, Catalogue, SubscriberView
from crm.digests.sections.base import string_agg

_agg = string_agg


def batch_query(
    dialect: str,
    frequency: str,
    after: int,
    limit: int,
    only_id: int | None = None,
    since: dt.datetime | None = None,
    until: int | None = None,
) -> Any:
    """Active subscriptions of ``frequency`` after id ``after`` and up to ``until`` (a shard's last id; None: no
    bound), or the one subscription ``only_id`` in any state, with what each section asks to know per subscriber
    (``Section.batch_columns``; ``since``: the period's start).
    """
    S = m.Subscription
    st, sr = m.subscription_topics.c, m.subscription_regions.c
    L, H = m.DigestDelivery, m.DigestHiddenItem
    # Only topics that still exist: a subscription whose topics were all deleted matches any topic.
    topics = (
        select(_agg(dialect, st.topic_id))
        .join(m.Topic, m.Topic.id == st.topic_id)
        .where(st.subscription_id == S.id)
        .scalar_subquery()
    )
    regions = select(_agg(dialect, sr.region_id)).where(sr.subscription_id == S.id).scalar_subquery()
    # Each ledger row holds one digest's items as ``kind:id,kind:id`` (crm.digests.ledger): joined, the same form.
    sent = select(_agg(dialect, L.items)).where(L.subscription_id == S.id).scalar_subquery()
    hidden = (
        select(_agg(dialect, H.item_kind + ":" + cast(H.item_id, String)))
        .where(H.subscription_id == S.id)
        .scalar_subquery()
    )
    query = select(
        S.id,
        S.email,
        S.name,
        # JSON columns as their text where the driver gives text (SQLite): decoded by msgspec in subscriber_view.
        type_coerce(S.mailings, Text).label("mailings"),
        type_coerce(S.funder_ids, Text).label("funder_ids"),
        S.only_vcse_partner_calls,
        type_coerce(S.filters, Text).label("filters"),
        topics.label("topics"),
        regions.label("regions"),
        sent.label("sent"),
        hidden.label("hidden"),
        *(column.label(label) for s in SECTIONS for label, column in s.batch_columns(dialect, since).items()),
    )
    if only_id is not None:
        return query.where(S.id == only_id)
    query = query.where(S.status == m.SubscriptionStatus.ACTIVE, S.frequency == frequency, S.id > after)
    if until is not None:
        query = query.where(S.id <= until)
    return query.order_by(S.id).limit(limit)


def _ints(raw: str | None) -> frozenset[int]:
    return frozenset(map(int, raw.split(","))) if raw else _NO_INTS


_NO_INTS: frozenset[int] = frozenset()


def _pairs(raw: str | None) -> dict[str, set[int]]:
    """``kind:id,kind:id`` as ids by kind: the builder then tests an int per candidate, building no tuple."""
    out: dict[str, set[int]] = {}
    if raw:
        for part in raw.split(","):
            kind, _, value = part.partition(":")
            ids = out.get(kind)
            if ids is None:
                ids = out[kind] = set()
            ids.add(int(value))
    return out


def _decoded(value: Any) -> Any:
    """A JSON column's value: text from SQLite, already decoded by psycopg from PostgreSQL's JSONB."""
    if isinstance(value, str | bytes):
        try:
            return _decode(value)
        except msgspec.DecodeError:
            return None
    return value


def subscriber_view(row: Any) -> SubscriberView:
    funders = _decoded(row.funder_ids)
    funders = funders if isinstance(funders, list) else []
    filters = _decoded(row.filters)
    filters = filters if isinstance(filters, dict) else {}
    mailings = _decoded(row.mailings)
    view = SubscriberView(
        id=row.id,
        email=row.email,
        name=" ".join((row.name or "").split())[:200],
        mailings=frozenset(x for x in (mailings if isinstance(mailings, list) else []) if isinstance(x, str)),
        topics=_ints(row.topics),
        regions=_ints(row.regions),
        funders=frozenset(int(f) for f in funders if isinstance(f, int | str) and str(f).isdigit())
        if funders
        else _NO_INTS,
        only_vcse=bool(row.only_vcse_partner_calls),
        filters=filters,
        sent=_pairs(row.sent),
        hidden=_pairs(row.hidden),
    )
    for section in SECTIONS:
        section.absorb(view, row)
    return view


def load_catalogue(session: Session, now: dt.datetime, base_url: str, since: dt.datetime | None = None) -> Catalogue:
    catalogue = Catalogue(session, now, base_url, since)
    for section in SECTIONS:
        section.load(catalogue)
    catalogue.release_session()
    return catalogue


_decode = msgspec.json.Decoder().decode
