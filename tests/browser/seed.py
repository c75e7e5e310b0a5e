"""Data for the browser session, made through the services (the demo seeders) plus one user per role.

URL templates in the page lists use ``{placeholders}`` filled from the seeded rows by ``resolve``, so a new
detail page is one line in ``pages.py``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.services import ensure_user
from crm.demo import seed_demo
from crm.settings import Settings

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


def seed(session: Session, settings: Settings) -> tuple[dict[m.Role, str], Seeded]:
    seed_demo(session, settings)
    for role, email in USERS.items():
        user = ensure_user(session, email, role, name=f"{role.value.title()} Tester")
        if role == m.Role.EDITOR:  # an editor looks after one organisation (/admin/our-organisation)
            user.organisation_id = _first(session, m.Organisation.id, m.Organisation.kind == m.OrgKind.VCSE)
    session.flush()
    return dict(USERS), resolve(session)
