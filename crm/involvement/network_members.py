"""The fellow's view of the lived experience network (``crm.involvement.admin_network``): the member list with its
search and filters, its CSV, and one member's record. Only the fellow (admin) reaches these; nothing here is public.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Select, String, cast, exists, func, or_, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.principal import Principal
from crm.audit import record
from crm.directory.export import safe_cell
from crm.involvement.network import KIND_VALUES, MAILING, alerts_on, links_of
from crm.listing import ListParams, Page, SortOption, Sorts, fetch_page
from crm.mailing.subscriptions import mailing_filter

MEMBER_SORTS = Sorts(
    SortOption("-joined", "Newest first", m.NetworkMember.created_at, descending=True),
    SortOption("name", "Name", m.NetworkMember.name),
    SortOption("email", "Email", m.NetworkMember.email),
)
MEMBER_FILTERS = ("status", "topic", "region", "kind")
CSV_HEADER = [
    "name", "email", "status", "joined", "confirmed", "kinds", "topics", "regions", "online_ok",
    "payment_preferences", "access_needs", "experience", "alerts", "consented_at",
]  # fmt: skip


def member_query(params: ListParams) -> Select[Any]:
    """The member list: search on name or email; filters status, topic id, region id, kind (flat, one statement)."""
    NM = m.NetworkMember
    query = select(NM.id, NM.name, NM.email, NM.status, NM.kinds, NM.online_ok, NM.created_at, NM.confirmed_at)
    if params.q:
        needle = params.q.strip().lower()
        query = query.where(
            or_(NM.email.contains(needle, autoescape=True), func.lower(NM.name).contains(needle, autoescape=True))
        )
    status = params.filters.get("status", "")
    if status in {s.value for s in m.NetworkMemberStatus}:
        query = query.where(NM.status == status)
    if str(params.filters.get("topic", "")).isdigit():
        mt = m.network_member_topics.c
        query = query.where(exists().where(mt.member_id == NM.id, mt.topic_id == int(params.filters["topic"])))
    if str(params.filters.get("region", "")).isdigit():
        mr = m.network_member_regions.c
        query = query.where(exists().where(mr.member_id == NM.id, mr.region_id == int(params.filters["region"])))
    kind = params.filters.get("kind", "")
    if kind in KIND_VALUES:
        query = query.where(cast(NM.kinds, String).like(f'%"{kind}"%'))
    return query


def members_page(session: Session, params: ListParams) -> Page:
    return fetch_page(session, member_query(params), params, MEMBER_SORTS, id_column=m.NetworkMember.id, count=True)


def csv_body(session: Session, params: ListParams) -> tuple[str, int]:
    """The filtered list as CSV text and how many members it holds. Only reads, so a worker process makes it; the
    download is audited by ``audit_export`` in the request's session (special-category data leaving the system is
    worth a line in the audit log)."""
    out = io.StringIO()
    rows = list(csv_rows(session, params))
    csv.writer(out).writerows(rows)
    return out.getvalue(), len(rows) - 1


def audit_export(session: Session, actor: Principal | None, params: ListParams, count: int) -> None:
    """Who downloaded how many members, with the search and filters used."""
    filters = ", ".join(f"{k}={v}" for k, v in sorted(params.filters.items()))
    record(
        session,
        actor,
        "export",
        "network_member",
        None,
        summary=f"Downloaded {count} network members as CSV"
        + (f" (search {params.q!r})" if params.q else "")
        + (f" ({filters})" if filters else ""),
    )


def csv_rows(session: Session, params: ListParams) -> Iterator[list[str]]:
    """The filtered list as CSV rows (header first), in batches so memory stays flat; formula-safe cells."""
    NM = m.NetworkMember
    names = dict(session.execute(select(m.Topic.id, m.Topic.name)).all())
    region_names = dict(session.execute(select(m.Region.id, m.Region.name)).all())
    kinds = {k.value: k.label for k in m.InvolvementKind}
    pays = {p.value: p.label for p in m.PaymentPreference}
    yield CSV_HEADER
    query = member_query(params).add_columns(NM.payment_preferences, NM.access_needs, NM.experience, NM.consented_at)
    last = 0
    while True:
        rows = list(session.execute(query.where(NM.id > last).order_by(NM.id).limit(500)))
        if not rows:
            return
        topics, regions = links_of(session, [r.id for r in rows])
        receiving = set(
            session.scalars(
                select(m.Subscription.email).where(
                    m.Subscription.email.in_([r.email for r in rows]),
                    m.Subscription.status == m.SubscriptionStatus.ACTIVE,
                    mailing_filter(MAILING),
                )
            )
        )
        for r in rows:
            yield [
                safe_cell(v)
                for v in (
                    r.name,
                    r.email,
                    r.status,
                    r.created_at.date().isoformat() if r.created_at else "",
                    r.confirmed_at.date().isoformat() if r.confirmed_at else "",
                    "; ".join(kinds.get(k, k) for k in r.kinds or []),
                    "; ".join(sorted(names.get(i, "") for i in topics.get(r.id, ()))),
                    "; ".join(sorted(region_names.get(i, "") for i in regions.get(r.id, ()))),
                    r.online_ok,
                    "; ".join(pays.get(p, p) for p in r.payment_preferences or []),
                    r.access_needs,
                    r.experience,
                    r.email in receiving,
                    r.consented_at.isoformat() if r.consented_at else "",
                )
            ]
        last = rows[-1].id


@dataclasses.dataclass(frozen=True, slots=True)
class MemberRecord:
    member: m.NetworkMember
    topics: list[str]
    regions: list[str]
    alerts_on: bool
    interests: list[Any]  # (opportunity id, title, status, source, created_at)
    subscription_id: int | None  # the address's subscription, whose page shows the consent log


def member_record(session: Session, member_id: int) -> MemberRecord | None:
    """A member's page: what they shared, their alerts, and the opportunities they said yes to."""
    member = session.get(m.NetworkMember, member_id)
    if member is None:
        return None
    topic_ids, region_ids = links_of(session, [member.id])
    topics = session.scalars(select(m.Topic.name).where(m.Topic.id.in_(sorted(topic_ids.get(member.id, ())))))
    regions = session.scalars(
        select(m.Region.name).where(m.Region.id.in_(sorted(region_ids.get(member.id, ())))).order_by(m.Region.position)
    )
    I, O = m.InvolvementInterest, m.InvolvementOpportunity  # noqa: E741
    interests = session.execute(
        select(O.id, O.title, I.status, I.source, I.created_at)
        .join(O, O.id == I.opportunity_id)
        .where(or_(I.member_id == member.id, I.email == member.email))
        .order_by(I.id.desc())
    ).all()
    subscription_id = session.scalar(select(m.Subscription.id).where(m.Subscription.email == member.email))
    return MemberRecord(
        member, sorted(topics), list(regions), alerts_on(session, member.email), list(interests), subscription_id
    )
