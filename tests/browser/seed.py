"""Data for the browser session, made through the services (the demo seeders) plus one user per role.

URL templates in the page lists use ``{placeholders}`` filled from the seeded rows by ``resolve``, so a new
detail page is one line in ``pages.py``.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.services import ensure_user
from crm.demo import seed_demo
from crm.involvement import alerts, consultation_groups, network, posting
from crm.settings import Settings
from crm.tokens import Signer

USERS = {
    m.Role.ADMIN: "fellow@roundtable.example.org",
    m.Role.EDITOR: "editor@roundtable.example.org",
    m.Role.VIEWER: "viewer@roundtable.example.org",
}


@dataclasses.dataclass
class Seeded:
    """Placeholder values for URL templates; a missing key means that kind of record does not exist yet."""

    values: dict[str, Any]

    def fill(self, template: str) -> str | None:
        try:
            return template.format(**self.values)
        except KeyError:
            return None


def _first(session: Session, column: Any, *where: Any) -> Any:
    return session.scalar(select(column).where(*where).order_by(column.table.c.id).limit(1))


# placeholder -> (column, *conditions): the first matching row's value fills the placeholder.
PLACEHOLDERS: dict[str, tuple[Any, ...]] = {
    "organisation_slug": (
        m.Organisation.slug,
        m.Organisation.visibility == m.Visibility.PUBLIC,
        m.Organisation.review_status == m.ReviewStatus.APPROVED,
    ),
    "organisation_id": (m.Organisation.id,),
    "contact_id": (m.Contact.id,),
    "funding_call_slug": (m.FundingCall.slug, m.FundingCall.status == m.CallStatus.PUBLISHED),
    "funding_call_id": (m.FundingCall.id,),
    "internship_slug": (m.Internship.slug, m.Internship.status == m.InternshipStatus.PUBLISHED),
    "internship_id": (m.Internship.id,),
    "event_slug": (m.Event.slug, m.Event.status == m.EventStatus.PUBLISHED),
    "event_id": (m.Event.id,),
    "partnership_id": (m.Partnership.id,),
    "subscription_id": (m.Subscription.id,),
    "message_id": (m.OutboxMessage.id,),
    "contact_list_id": (m.ContactList.id,),
    "news_slug": (
        m.Campaign.news_slug,
        m.Campaign.published_at.is_not(None),
        m.Campaign.status.in_((m.CampaignStatus.SENDING, m.CampaignStatus.SENT)),
    ),
    "involvement_slug": (
        m.InvolvementOpportunity.slug,
        m.InvolvementOpportunity.status == m.OpportunityStatus.PUBLISHED,
    ),
    "closed_involvement_slug": (
        m.InvolvementOpportunity.slug,
        m.InvolvementOpportunity.status == m.OpportunityStatus.CLOSED,
    ),
    "involvement_id": (m.InvolvementOpportunity.id,),
    "network_member_id": (m.NetworkMember.id,),
    "consultation_id": (m.ConsultationRequest.id,),
    "involvement_record_id": (m.InvolvementRecord.id,),
}


def resolve(session: Session) -> Seeded:
    values: dict[str, Any] = {}
    tables = set(inspect(session.connection()).get_table_names())
    for name, (column, *where) in PLACEHOLDERS.items():
        if column.table.name not in tables:  # that domain's migration has not landed yet
            continue
        value = _first(session, column, *where)
        if value is not None:
            values[name] = value
    return Seeded(values)


def signed_links(session: Session, settings: Settings) -> dict[str, str]:
    """Tokens of the emailed links whose pages only open with one (a public poster's manage page, a group's answer
    page, a network member's own pages), made by the functions that write those emails."""
    signer = Signer(settings)
    values: dict[str, str] = {}
    interest = m.InvolvementInterest
    opp = session.scalar(
        select(m.InvolvementOpportunity)
        .where(m.InvolvementOpportunity.status == m.OpportunityStatus.PUBLISHED)
        .where(select(interest.id).where(interest.opportunity_id == m.InvolvementOpportunity.id).exists())
        .order_by(m.InvolvementOpportunity.id)
        .limit(1)
    )
    if opp is not None:  # the poster sees the people who expressed interest
        values["involvement_manage_token"] = _query_token(posting.manage_url(signer, opp, ""))
    recipient = m.ConsultationRecipient
    answer = session.execute(
        select(m.ConsultationRequest, recipient.id)
        .join(recipient, recipient.request_id == m.ConsultationRequest.id)
        .where(m.ConsultationRequest.status == m.ConsultationStatus.SENT)
        .order_by((recipient.answer == m.ConsultationAnswer.NONE).desc(), recipient.id)  # unanswered: the form
        .limit(1)
    ).first()
    if answer is not None:
        values["involvement_answer_token"] = consultation_groups.answer_token(signer, answer[0], answer[1])
    member = session.scalar(
        select(m.NetworkMember)
        .where(m.NetworkMember.status == m.NetworkMemberStatus.ACTIVE)
        .order_by(m.NetworkMember.id)
        .limit(1)
    )
    if member is not None:
        values["network_member_token"] = network.member_token(signer, member)
        if opp is not None:
            link = alerts.interest_url(signer, "", "involvement-interest", opp.id, member)
            values["network_interested_token"] = link.rsplit("/", 1)[1]
    session.flush()  # a manage link gives the opportunity its key
    return values


def _query_token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def seed(session: Session, settings: Settings) -> tuple[dict[m.Role, str], Seeded]:
    seed_demo(session, settings)
    for role, email in USERS.items():
        user = ensure_user(session, email, role, name=f"{role.value.title()} Tester")
        if role == m.Role.EDITOR:  # an editor looks after one organisation (/admin/our-organisation)
            user.organisation_id = _first(session, m.Organisation.id, m.Organisation.kind == m.OrgKind.VCSE)
    session.flush()
    seeded = resolve(session)
    seeded.values.update(signed_links(session, settings))
    return dict(USERS), seeded
