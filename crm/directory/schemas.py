"""API shapes of the directory (msgspec Structs, documented in OpenAPI). Contacts never appear in public shapes."""

from __future__ import annotations

import datetime as dt

import msgspec

UNSET = msgspec.UNSET


class Organisation(msgspec.Struct):
    id: int
    slug: str
    name: str
    kind: str
    vcse_category: str | None
    user_led: bool
    lived_experience_led: bool
    description: str
    website: str
    public_email: str
    region: str | None
    topics: list[str]
    postcode: str
    charity_number: str
    company_number: str
    visibility: str
    review_status: str
    created_at: dt.datetime
    updated_at: dt.datetime


class OrganisationPage(msgspec.Struct):
    items: list[Organisation]
    next_cursor: str | None
    prev_cursor: str | None


class OrganisationIn(msgspec.Struct, forbid_unknown_fields=True):
    """Create (``name`` and ``kind`` required) or PATCH (every field optional). Topics and region by slug."""

    name: str | msgspec.UnsetType = UNSET
    kind: str | msgspec.UnsetType = UNSET
    vcse_category: str | msgspec.UnsetType | None = UNSET
    user_led: bool | msgspec.UnsetType = UNSET
    lived_experience_led: bool | msgspec.UnsetType = UNSET
    description: str | msgspec.UnsetType = UNSET
    website: str | msgspec.UnsetType = UNSET
    public_email: str | msgspec.UnsetType = UNSET
    region: str | msgspec.UnsetType | None = UNSET
    topics: list[str] | msgspec.UnsetType = UNSET
    postcode: str | msgspec.UnsetType = UNSET
    charity_number: str | msgspec.UnsetType = UNSET
    company_number: str | msgspec.UnsetType = UNSET
    visibility: str | msgspec.UnsetType = UNSET
    parent: str | msgspec.UnsetType | None = UNSET


class Affiliation(msgspec.Struct):
    organisation_id: int
    organisation: str
    role: str
    is_primary: bool


class Contact(msgspec.Struct):
    id: int
    name: str
    email: str | None
    phone: str
    job_title: str
    career_stage: str | None
    notes: str
    topics: list[str]
    regions: list[str]
    affiliations: list[Affiliation]
    created_at: dt.datetime
    updated_at: dt.datetime


class ContactSummary(msgspec.Struct):
    id: int
    name: str
    email: str | None
    job_title: str
    organisation: str | None


class ContactPage(msgspec.Struct):
    items: list[ContactSummary]
    next_cursor: str | None
    prev_cursor: str | None


class ContactIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str | msgspec.UnsetType = UNSET
    email: str | msgspec.UnsetType | None = UNSET
    phone: str | msgspec.UnsetType = UNSET
    job_title: str | msgspec.UnsetType = UNSET
    career_stage: str | msgspec.UnsetType | None = UNSET
    notes: str | msgspec.UnsetType = UNSET
    topics: list[str] | msgspec.UnsetType = UNSET
    regions: list[str] | msgspec.UnsetType = UNSET


class Topic(msgspec.Struct):
    id: int
    slug: str
    name: str
    description: str


class TopicIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str | msgspec.UnsetType = UNSET
    description: str | msgspec.UnsetType = UNSET


def given(data: msgspec.Struct) -> dict[str, object]:
    """The fields a client actually sent (PATCH semantics); ``None`` becomes an empty value."""
    out: dict[str, object] = {}
    for field in data.__struct_fields__:
        value = getattr(data, field)
        if value is not UNSET:
            out[field] = "" if value is None else value
    return out
