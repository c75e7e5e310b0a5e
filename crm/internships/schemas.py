"""API shapes for /api/v1/internships (msgspec Structs, documented in OpenAPI).

Money is given in pounds as a string or number (``stipend_amount``) and returned both as pence and as a label.
The host contact and registrations of interest are personal data: never in the public shapes.
"""

from __future__ import annotations

import datetime as dt

import msgspec


class InternshipOut(msgspec.Struct):
    id: int
    slug: str
    title: str
    url: str
    host_organisation_id: int
    host_name: str
    direction: str
    mode: str
    paid: bool
    stipend_pence: int | None
    stipend_period: str | None
    stipend: str
    hours_per_week: int | None
    duration: str
    closing_date: dt.date
    closes_at: dt.datetime
    status: str
    region: str | None
    published_at: dt.datetime | None
    description: str | None = None
    apply_url: str | None = None
    apply_email: str | None = None
    topics: list[str] | None = None
    career_stages: list[str] | None = None
    # Only for the fellow and the host organisation's editors:
    host_contact_name: str | None = None
    host_contact_email: str | None = None
    interest_count: int | None = None
    review_note: str | None = None


class InternshipPage(msgspec.Struct):
    items: list[InternshipOut]
    next_cursor: str | None
    prev_cursor: str | None


class InternshipIn(msgspec.Struct, forbid_unknown_fields=True):
    """Create a listing. Editors may post only for their own organisation; their listings wait for approval."""

    title: str
    host_organisation_id: int
    direction: str
    mode: str
    closing_date: str
    host_contact_email: str
    description: str = ""
    region_id: int | None = None
    paid: bool = False
    stipend_amount: str | float | int | None = None
    stipend_period: str | None = None
    hours_per_week: int | str | None = None
    duration: str = ""
    apply_url: str = ""
    apply_email: str = ""
    host_contact_name: str = ""
    topic_ids: list[int] = msgspec.field(default_factory=list)
    career_stages: list[str] = msgspec.field(default_factory=list)
    publish: bool = False


class InternshipPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Change some fields; absent fields keep their value. ``action`` moves the status (submit, approve,
    reject, close, filled, reopen) after the field changes."""

    title: str | msgspec.UnsetType = msgspec.UNSET
    host_organisation_id: int | msgspec.UnsetType = msgspec.UNSET
    direction: str | msgspec.UnsetType = msgspec.UNSET
    mode: str | msgspec.UnsetType = msgspec.UNSET
    closing_date: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET
    region_id: int | msgspec.UnsetType | None = msgspec.UNSET
    paid: bool | msgspec.UnsetType = msgspec.UNSET
    stipend_amount: str | float | int | msgspec.UnsetType | None = msgspec.UNSET
    stipend_period: str | msgspec.UnsetType | None = msgspec.UNSET
    hours_per_week: int | str | msgspec.UnsetType | None = msgspec.UNSET
    duration: str | msgspec.UnsetType = msgspec.UNSET
    apply_url: str | msgspec.UnsetType = msgspec.UNSET
    apply_email: str | msgspec.UnsetType = msgspec.UNSET
    host_contact_name: str | msgspec.UnsetType = msgspec.UNSET
    host_contact_email: str | msgspec.UnsetType = msgspec.UNSET
    topic_ids: list[int] | msgspec.UnsetType = msgspec.UNSET
    career_stages: list[str] | msgspec.UnsetType = msgspec.UNSET
    action: str | msgspec.UnsetType = msgspec.UNSET
    note: str | msgspec.UnsetType = msgspec.UNSET


class InterestOut(msgspec.Struct):
    id: int
    name: str
    email: str
    note: str
    created_at: dt.datetime
    status: str = "new"  # new / contacted / shortlisted / declined / offered
