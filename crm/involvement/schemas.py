"""API shapes for /api/v1/involvement-opportunities (msgspec Structs, documented in OpenAPI).

Money is sent in pounds as a string or number (``payment_amount``, "12.50") and returned as pence and as words
("£12.50 per hour"). The poster's contact is personal data: only its owners and the fellow see it, never the public
shapes; expressions of interest are never in this API at all.
"""

from __future__ import annotations

import datetime as dt

import msgspec


class OpportunityOut(msgspec.Struct):
    id: int
    slug: str
    title: str
    url: str
    kind: str
    kind_label: str
    summary: str
    organisation_name: str | None
    region: str | None
    online: bool
    paid: bool
    payment_pence: int | None
    payment_basis: str | None
    expenses_covered: bool
    payment: str  # in words: "£25 per meeting, plus expenses", "Expenses only"
    commitment: str
    time_commitment: str
    closing_date: dt.date
    closes_at: dt.datetime
    published_at: dt.datetime | None
    open: bool
    # One opportunity's page (GET /{id}) adds its full text:
    lived_experience_sought: str | None = None
    what_you_will_do: str | None = None
    accessibility_support: str | None = None
    how_to_express_interest: str | None = None
    payment_note: str | None = None
    topics: list[str] | None = None
    # Only for its owners and the fellow:
    status: str | None = None
    organisation_id: int | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    interest_count: int | None = None


class OpportunityPage(msgspec.Struct):
    items: list[OpportunityOut]
    next_cursor: str | None
    prev_cursor: str | None


class OpportunityIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new opportunity. ``publish`` true makes it public at once, false keeps it a draft."""

    title: str
    kind: str
    lived_experience_sought: str
    what_you_will_do: str
    closing_date: str
    contact_email: str
    summary: str = ""
    organisation_id: int | None = None
    region_id: int | None = None
    online: bool = False
    paid: bool = False
    payment_amount: str | float | int | None = None
    payment_basis: str | None = None
    expenses_covered: bool = True
    payment_note: str = ""
    commitment: str = "one-off"
    time_commitment: str = ""
    accessibility_support: str = ""
    how_to_express_interest: str = ""
    contact_name: str = ""
    topic_ids: list[int] = msgspec.field(default_factory=list)
    publish: bool = False


class OpportunityPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Change some fields; absent ones keep their value. ``action`` ("publish" or "close") runs after the changes."""

    title: str | msgspec.UnsetType = msgspec.UNSET
    kind: str | msgspec.UnsetType = msgspec.UNSET
    lived_experience_sought: str | msgspec.UnsetType = msgspec.UNSET
    what_you_will_do: str | msgspec.UnsetType = msgspec.UNSET
    closing_date: str | msgspec.UnsetType = msgspec.UNSET
    contact_email: str | msgspec.UnsetType = msgspec.UNSET
    summary: str | msgspec.UnsetType = msgspec.UNSET
    organisation_id: int | msgspec.UnsetType | None = msgspec.UNSET
    region_id: int | msgspec.UnsetType | None = msgspec.UNSET
    online: bool | msgspec.UnsetType = msgspec.UNSET
    paid: bool | msgspec.UnsetType = msgspec.UNSET
    payment_amount: str | float | int | msgspec.UnsetType | None = msgspec.UNSET
    payment_basis: str | msgspec.UnsetType | None = msgspec.UNSET
    expenses_covered: bool | msgspec.UnsetType = msgspec.UNSET
    payment_note: str | msgspec.UnsetType = msgspec.UNSET
    commitment: str | msgspec.UnsetType = msgspec.UNSET
    time_commitment: str | msgspec.UnsetType = msgspec.UNSET
    accessibility_support: str | msgspec.UnsetType = msgspec.UNSET
    how_to_express_interest: str | msgspec.UnsetType = msgspec.UNSET
    contact_name: str | msgspec.UnsetType = msgspec.UNSET
    topic_ids: list[int] | msgspec.UnsetType = msgspec.UNSET
    action: str | msgspec.UnsetType = msgspec.UNSET
