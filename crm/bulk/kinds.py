"""The admin lists bulk actions work on (issue 17.4), each declared once: its records, the query behind its list
(so "all N matching" selects exactly what the list shows), the topic links it has, and the columns of its CSV.

A list gains bulk actions by one entry in ``KINDS`` and the bulk macros in its results template.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Select, Table, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.principal import Principal
from crm.directory import contacts, organisations
from crm.directory import queries as directory_queries
from crm.events import listing as event_listing
from crm.funding import queries as funding_queries
from crm.internships import queries as internship_queries
from crm.involvement import access as involvement_access
from crm.involvement.rules import payment_summary
from crm.listing import ListParams
from crm.mailing import queries as mailing_queries
from crm.partnerships import queries as partnership_queries
from crm.settings import Settings


@dataclasses.dataclass(frozen=True, slots=True)
class Scope:
    """What a list's query needs besides its filters: the moment, the settings, who is looking."""

    now: dt.datetime
    settings: Settings
    actor: Principal | None


Matching = Callable[[Session, ListParams, Scope], Select[Any]]


@dataclasses.dataclass(frozen=True, slots=True)
class Kind:
    """One list bulk actions work on."""

    name: str  # audit entity
    plural: str
    url: str
    model: Any
    label: Any  # the column that names a record on the confirmation page
    filters: tuple[str, ...]
    matching: Matching  # the list's query with its filters and search; it has an ``id`` column
    actions: Mapping[str, str]  # action key -> label
    links: Table | None = None  # the topic link table, when the records have topics
    link_column: str = ""
    export: Callable[[], Select[Any]] | None = None  # labelled columns of the CSV (None: the directory's own export)
    # When a CSV cell needs more than its column (a payment in words): the header, and one row of ``export()`` as cells.
    export_header: tuple[str, ...] = ()
    export_row: Callable[[Any], list[Any]] | None = None


TOPIC_ACTIONS = {"add_topic": "Add a topic", "remove_topic": "Remove a topic"}
EXPORT = {"export": "Download as CSV"}
# Records with no end of their own are archived; funding calls close, events are cancelled, internships close or
# are filled and subscribers unsubscribe, each through its own page (with the emails that go with it).
ARCHIVE = {"archive": "Archive", "restore": "Restore from the archive"}


def _organisations(session: Session, params: ListParams, scope: Scope) -> Select[Any]:
    """As the admin list finds them: a search starts from its matches (``crm.directory.queries.matching``)."""
    return directory_queries.matching(session, params, public=False, topics=False)[0]


def _contacts(session: Session, params: ListParams, scope: Scope) -> Select[Any]:
    return contacts.contact_list_query(session, params)[0]


def _subscribers(session: Session, params: ListParams, scope: Scope) -> Select[Any]:
    return mailing_queries.subscribers_query(params)


def _partnerships(session: Session, params: ListParams, scope: Scope) -> Select[Any]:
    return partnership_queries.list_query(params, now=scope.now, settings=scope.settings, actor=scope.actor)


def _funding_calls(session: Session, params: ListParams, scope: Scope) -> Select[Any]:
    return funding_queries.searched_query(session, params, now=scope.now, public=False)[0]


def _events(session: Session, params: ListParams, scope: Scope) -> Select[Any]:
    return event_listing.admin_query(params, scope.now)


def _internships(session: Session, params: ListParams, scope: Scope) -> Select[Any]:
    if scope.actor is None:
        raise ValueError("the internship list depends on who is looking")
    return internship_queries.admin_query(session, scope.actor, params)[0]


def _involvement_opportunities(session: Session, params: ListParams, scope: Scope) -> Select[Any]:
    if scope.actor is None:
        raise ValueError("the involvement list depends on who is looking")
    return involvement_access.admin_query(scope.actor, params)


def _subscriber_columns() -> Select[Any]:
    s = m.Subscription
    return select(
        s.email.label("Email"),
        s.name.label("Name"),
        s.organisation_name.label("Organisation"),
        s.status.label("Status"),
        s.mailings.label("Mailings"),
        s.frequency.label("Frequency"),
        s.confirmed_at.label("Confirmed"),
        s.created_at.label("Signed up"),
    )


def _partnership_columns() -> Select[Any]:
    p = m.Partnership
    return select(
        p.title.label("Title"),
        p.stage.label("Stage"),
        m.FundingCall.title.label("Funding call"),
        p.start_date.label("Starts"),
        p.end_date.label("Ends"),
        p.next_step.label("Next step"),
        p.next_step_due.label("Next step due"),
        p.last_activity_at.label("Last activity"),
    ).outerjoin(m.FundingCall, m.FundingCall.id == p.funding_call_id)


def _funding_call_columns() -> Select[Any]:
    c = m.FundingCall
    return select(
        c.title.label("Title"),
        m.Organisation.name.label("Funder"),
        c.status.label("Status"),
        c.next_deadline_at.label("Next deadline"),
        c.amount_min.label("Amount from (£)"),
        c.amount_max.label("Amount to (£)"),
        c.requires_vcse_partner.label("Needs a VCSE partner"),
        c.url.label("Web page"),
    ).join(m.Organisation, m.Organisation.id == c.funder_id)


def _event_columns() -> Select[Any]:
    e = m.Event
    return select(
        e.title.label("Title"),
        e.status.label("Status"),
        e.starts_at.label("Starts"),
        e.ends_at.label("Ends"),
        e.venue.label("Venue"),
        e.online_url.label("Online link"),
        e.capacity.label("Places"),
        m.Organisation.name.label("Host"),
    ).outerjoin(m.Organisation, m.Organisation.id == e.host_organisation_id)


def _internship_columns() -> Select[Any]:
    i = m.Internship
    return select(
        i.title.label("Title"),
        m.Organisation.name.label("Host"),
        i.status.label("Status"),
        i.direction.label("Who it is for"),
        i.mode.label("Where"),
        i.paid.label("Paid"),
        i.closing_date.label("Closing date"),
        i.host_contact_email.label("Host contact"),
    ).join(m.Organisation, m.Organisation.id == i.host_organisation_id)


def _involvement_columns() -> Select[Any]:
    o = m.InvolvementOpportunity
    return (
        select(
            o.title,
            o.kind,
            o.status,
            m.Organisation.name.label("organisation_name"),
            m.Region.name.label("region_name"),
            o.online,
            o.paid,
            o.payment_pence,
            o.payment_basis,
            o.expenses_covered,
            o.closing_date,
            involvement_access.INTEREST_COUNT,
        )
        .outerjoin(m.Organisation, m.Organisation.id == o.organisation_id)
        .outerjoin(m.Region, m.Region.id == o.region_id)
    )


# The list's own words for the statuses that are not self-explanatory (its tabs and badges say the same).
OPPORTUNITY_STATUS_WORDS = {
    m.OpportunityStatus.SUBMITTED: "Waiting for approval",
    m.OpportunityStatus.REJECTED: "Turned down",
}


INVOLVEMENT_HEADER = ("Title", "Kind", "Status", "Organisation", "Region", "Online", "Payment", "Closing date",
                      "Expressions of interest")  # fmt: skip


def _involvement_row(r: Any) -> list[Any]:
    """No personal data: neither the poster's contact nor anyone who expressed interest, only how many did."""
    status = OPPORTUNITY_STATUS_WORDS.get(r.status, r.status)
    return [r.title, r.kind.label, status, r.organisation_name, r.region_name, r.online, payment_summary(r),
            r.closing_date, r.interests]  # fmt: skip


ORGANISATIONS = Kind(
    "organisation",
    "organisations",
    "/admin/organisations",
    m.Organisation,
    m.Organisation.name,
    organisations.ADMIN_ORG_FILTERS,
    _organisations,
    {**TOPIC_ACTIONS, **EXPORT, **ARCHIVE},
    m.organisation_topics,
    "organisation_id",
)
CONTACTS = Kind(
    "contact",
    "contacts",
    "/admin/contacts",
    m.Contact,
    m.Contact.name,
    contacts.CONTACT_FILTERS,
    _contacts,
    {"add_to_list": "Add to a contact list", **TOPIC_ACTIONS, **EXPORT, **ARCHIVE},
    m.contact_topics,
    "contact_id",
)
SUBSCRIBERS = Kind(
    "subscription",
    "subscribers",
    "/admin/subscribers",
    m.Subscription,
    m.Subscription.email,
    mailing_queries.SUBSCRIBER_FILTERS,
    _subscribers,
    {**TOPIC_ACTIONS, **EXPORT},
    m.subscription_topics,
    "subscription_id",
    _subscriber_columns,
)
PARTNERSHIPS = Kind(
    "partnership",
    "partnerships",
    "/admin/partnerships",
    m.Partnership,
    m.Partnership.title,
    partnership_queries.FILTERS,
    _partnerships,
    {**TOPIC_ACTIONS, **EXPORT, **ARCHIVE},
    m.partnership_topics,
    "partnership_id",
    _partnership_columns,
)
FUNDING_CALLS = Kind(
    "funding_call",
    "funding calls",
    "/admin/funding-calls",
    m.FundingCall,
    m.FundingCall.title,
    funding_queries.ADMIN_FILTERS,
    _funding_calls,
    {**TOPIC_ACTIONS, **EXPORT},
    m.funding_call_topics,
    "call_id",
    _funding_call_columns,
)
EVENTS = Kind(
    "event",
    "events",
    "/admin/events",
    m.Event,
    m.Event.title,
    event_listing.ADMIN_FILTERS,
    _events,
    dict(EXPORT),
    export=_event_columns,
)
INTERNSHIPS = Kind(
    "internship",
    "internships",
    "/admin/internships",
    m.Internship,
    m.Internship.title,
    ("status",),
    _internships,
    {**TOPIC_ACTIONS, **EXPORT},
    m.internship_topics,
    "internship_id",
    _internship_columns,
)
INVOLVEMENT_OPPORTUNITIES = Kind(
    "involvement_opportunity",
    "involvement opportunities",
    "/admin/involvement",
    m.InvolvementOpportunity,
    m.InvolvementOpportunity.title,
    involvement_access.FILTERS,
    _involvement_opportunities,
    {**TOPIC_ACTIONS, **EXPORT, "close": "Close (the published ones)"},  # the harmless ones first (the default)
    m.involvement_opportunity_topics,
    "opportunity_id",
    _involvement_columns,
    INVOLVEMENT_HEADER,
    _involvement_row,
)
KINDS = {
    k.plural.replace(" ", "-"): k
    for k in (
        ORGANISATIONS,
        CONTACTS,
        SUBSCRIBERS,
        PARTNERSHIPS,
        FUNDING_CALLS,
        EVENTS,
        INTERNSHIPS,
        INVOLVEMENT_OPPORTUNITIES,
    )
}
