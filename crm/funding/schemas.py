"""API shapes for funding calls (msgspec Structs, documented in OpenAPI). Times are UTC ISO 8601."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

UNSET = msgspec.UNSET
# The stored values of crm.models.FundingType and ApplicationEffort (a test checks they agree), as literals so
# the OpenAPI document lists them and a bad value is a 422 naming the field.
FundingType = Literal["core", "project", "capacity-building", "small-grant", "fellowship-or-training", "in-kind"]
ApplicationEffort = Literal["light", "standard", "heavy"]


class Deadline(msgspec.Struct):
    label: str
    due_at: dt.datetime


class FundingCallOut(msgspec.Struct):
    id: int
    slug: str
    title: str
    url: str
    page_url: str
    funder_id: int
    funder: str
    summary: str
    eligibility: str
    opens_at: dt.datetime | None
    deadlines: list[Deadline]
    next_deadline_at: dt.datetime | None
    last_deadline_at: dt.datetime | None
    amount_min: int | None
    amount_max: int | None
    topics: list[str]
    regions: list[str]
    requires_vcse_partner: bool
    vcse_can_be_co_lead: bool
    lead_must_be_academic: bool
    lead_must_be_vcse: bool
    # Whom the call suits; null = not stated (see FitIn for the values).
    funding_type: FundingType | None
    application_effort: ApplicationEffort | None
    open_to_unregistered: bool | None
    open_to_user_led: bool | None
    match_funding_required: bool | None
    lived_experience_payment: bool | None
    suits_small_user_led: bool
    status: str
    published_at: dt.datetime | None
    external_ref: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class FundingCallSummary(msgspec.Struct):
    id: int
    slug: str
    title: str
    page_url: str
    funder: str
    status: str
    next_deadline_at: dt.datetime | None
    amount_min: int | None
    amount_max: int | None
    requires_vcse_partner: bool
    funding_type: FundingType | None
    application_effort: ApplicationEffort | None
    suits_small_user_led: bool


class FundingCallPage(msgspec.Struct):
    items: list[FundingCallSummary]
    next_cursor: str | None
    prev_cursor: str | None


class DeadlineIn(msgspec.Struct, forbid_unknown_fields=True):
    label: str
    due_at: dt.datetime


class FundingCallIn(msgspec.Struct, forbid_unknown_fields=True):
    """Create (``title``, ``funder_id`` and ``deadlines`` required) or PATCH (every field optional).

    Topics and regions by slug. ``status`` is draft, published or closed. Deadlines replace the existing ones.
    Whom the call suits: ``funding_type`` (core, project, capacity-building, small-grant, fellowship-or-training,
    in-kind), ``application_effort`` (light, standard, heavy) and the yes/no answers; null means not stated.
    """

    title: str | msgspec.UnsetType = UNSET
    funder_id: int | msgspec.UnsetType = UNSET
    url: str | msgspec.UnsetType = UNSET
    summary: str | msgspec.UnsetType = UNSET
    eligibility: str | msgspec.UnsetType = UNSET
    opens_at: dt.datetime | msgspec.UnsetType | None = UNSET
    deadlines: list[DeadlineIn] | msgspec.UnsetType = UNSET
    amount_min: int | msgspec.UnsetType | None = UNSET
    amount_max: int | msgspec.UnsetType | None = UNSET
    topics: list[str] | msgspec.UnsetType = UNSET
    regions: list[str] | msgspec.UnsetType = UNSET
    requires_vcse_partner: bool | msgspec.UnsetType = UNSET
    vcse_can_be_co_lead: bool | msgspec.UnsetType = UNSET
    lead_must_be_academic: bool | msgspec.UnsetType = UNSET
    lead_must_be_vcse: bool | msgspec.UnsetType = UNSET
    status: str | msgspec.UnsetType = UNSET
    external_ref: str | msgspec.UnsetType | None = UNSET
    funding_type: FundingType | msgspec.UnsetType | None = UNSET
    application_effort: ApplicationEffort | msgspec.UnsetType | None = UNSET
    open_to_unregistered: bool | msgspec.UnsetType | None = UNSET
    open_to_user_led: bool | msgspec.UnsetType | None = UNSET
    match_funding_required: bool | msgspec.UnsetType | None = UNSET
    lived_experience_payment: bool | msgspec.UnsetType | None = UNSET


class Suggestion(msgspec.Struct):
    organisation_id: int
    name: str
    slug: str
    score: int
    reasons: list[str]
    already_on_call: bool
