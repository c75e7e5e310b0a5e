"""What the mail pages read: the subscribe form's menus, the outbox newest first, a message's delivery events,
the subscriber list, one subscriber's history and the suppression list. Changes are in the other services."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from crm import models as m
from crm.directory.organisations import public_condition
from crm.listing import ListParams, Page, SortOption, Sorts, fetch_page
from crm.mailing.subscriptions import mailing_filter
from crm.mailing.suppression import active_suppression

OUTBOX_PAGE = 50
RECENT_MESSAGES = 20


def subscription_menus(session: Session) -> dict[str, list[Any]]:
    """Topics, regions and the public funders a subscriber may choose (three small statements)."""
    return {
        "topics": session.execute(select(m.Topic.id, m.Topic.name).order_by(m.Topic.name)).all(),
        "regions": session.execute(select(m.Region.id, m.Region.name).order_by(m.Region.position)).all(),
        "funders": session.execute(
            select(m.Organisation.id, m.Organisation.name)
            .where(m.Organisation.kind == m.OrgKind.FUNDER, public_condition())
            .order_by(m.Organisation.name)
        ).all(),
    }


def outbox_page(
    session: Session, *, status: str, q: str, before: int | None, kind: str = ""
) -> tuple[list[Any], int | None]:
    """One page of the outbox, newest first, keyset-paged by id so deep pages cost the same as the first.

    Returns the rows and the id to pass as ``before`` for the next page (None on the last page)."""
    query = select(
        m.OutboxMessage.id,
        m.OutboxMessage.kind,
        m.OutboxMessage.template,
        m.OutboxMessage.recipient,
        m.OutboxMessage.subject,
        m.OutboxMessage.status,
        m.OutboxMessage.attempts,
        m.OutboxMessage.created_at,
        m.OutboxMessage.sent_at,
        m.OutboxMessage.last_error,
        m.OutboxMessage.provider_message_id,
    ).order_by(m.OutboxMessage.id.desc())
    if status in {s.value for s in m.OutboxStatus}:
        query = query.where(m.OutboxMessage.status == status)
    if q:
        query = query.where(m.OutboxMessage.recipient.contains(q.strip().lower(), autoescape=True))
    if kind:  # a kind of email is its template's name (an event's cancellation is kind event_cancel)
        query = query.where(or_(m.OutboxMessage.template == kind, m.OutboxMessage.kind == kind))
    if before:
        query = query.where(m.OutboxMessage.id < before)
    rows = list(session.execute(query.limit(OUTBOX_PAGE + 1)).all())
    more = len(rows) > OUTBOX_PAGE
    rows = rows[:OUTBOX_PAGE]
    return rows, (rows[-1].id if more and rows else None)


def delivery_events(session: Session, message_id: int) -> list[m.DeliveryEvent]:
    return list(
        session.scalars(
            select(m.DeliveryEvent).where(m.DeliveryEvent.outbox_id == message_id).order_by(m.DeliveryEvent.id)
        )
    )


SUBSCRIBER_SORTS = Sorts(
    SortOption("-created", "Newest first", m.Subscription.created_at, descending=True),
    SortOption("email", "Email", m.Subscription.email),
    SortOption("name", "Name", m.Subscription.name),
)
SUBSCRIBER_FILTERS = ("status", "mailing")


def subscribers_page(session: Session, params: ListParams, *, count: bool = False) -> Page:
    """Subscribers matching the search (address, name or organisation) and the status and mailing filters."""
    query = subscribers_query(params)
    return fetch_page(session, query, params, SUBSCRIBER_SORTS, id_column=m.Subscription.id, count=count)


def subscribers_query(params: ListParams) -> Select[Any]:
    """The subscriber list's query (also every id a bulk action selects)."""
    query = select(
        m.Subscription.id,
        m.Subscription.email,
        m.Subscription.name,
        m.Subscription.organisation_name,
        m.Subscription.status,
        m.Subscription.frequency,
        m.Subscription.mailings,
        m.Subscription.confirmed_at,
        m.Subscription.created_at,
    )
    if params.q:
        needle = params.q.strip().lower()
        query = query.where(
            or_(
                m.Subscription.email.contains(needle, autoescape=True),
                func.lower(m.Subscription.name).contains(needle, autoescape=True),
                func.lower(m.Subscription.organisation_name).contains(needle, autoescape=True),
            )
        )
    status = params.filters.get("status", "")
    if status in {s.value for s in m.SubscriptionStatus}:
        query = query.where(m.Subscription.status == status)
    mailing = params.filters.get("mailing", "")
    if mailing in {x.value for x in m.Mailing}:
        query = query.where(mailing_filter(mailing))
    return query


@dataclasses.dataclass(frozen=True, slots=True)
class SubscriberRecord:
    sub: m.Subscription  # with topics and regions
    consent: list[m.ConsentEntry]  # newest first, by subscription or by address
    messages: list[Any]  # the latest emails to the address
    suppression: m.Suppression | None


def subscriber_record(session: Session, sub_id: int) -> SubscriberRecord | None:
    sub = session.scalar(
        select(m.Subscription)
        .where(m.Subscription.id == sub_id)
        .options(selectinload(m.Subscription.topics), selectinload(m.Subscription.regions))
    )
    if sub is None:
        return None
    consent = session.scalars(
        select(m.ConsentEntry)
        .where(or_(m.ConsentEntry.subscription_id == sub.id, m.ConsentEntry.email == sub.email))
        .order_by(m.ConsentEntry.id.desc())
    ).all()
    messages = session.execute(
        select(
            m.OutboxMessage.id,
            m.OutboxMessage.kind,
            m.OutboxMessage.subject,
            m.OutboxMessage.status,
            m.OutboxMessage.created_at,
        )
        .where(m.OutboxMessage.recipient == sub.email)
        .order_by(m.OutboxMessage.id.desc())
        .limit(RECENT_MESSAGES)
    ).all()
    return SubscriberRecord(sub, list(consent), list(messages), active_suppression(session, sub.email))


def topic_and_region_names(session: Session) -> dict[str, str]:
    """Slug -> name for every topic and region (a few dozen rows), for pages that show stored slugs."""
    regions = session.execute(select(m.Region.slug, m.Region.name)).all()
    topics = session.execute(select(m.Topic.slug, m.Topic.name)).all()
    return {slug: name for slug, name in [*regions, *topics]}
