"""API shapes for partnerships (private: admins and editors). Dates are ISO 8601; times UTC."""

from __future__ import annotations

import datetime as dt

import msgspec

UNSET = msgspec.UNSET


class Member(msgspec.Struct):
    side: str
    organisation_id: int | None
    organisation: str | None
    contact_id: int | None
    contact: str | None
    role: str


class PartnershipOut(msgspec.Struct):
    id: int
    title: str
    summary: str
    stage: str
    health: str
    funding_call_id: int | None
    start_date: dt.date | None
    end_date: dt.date | None
    academic_brings: str
    academic_gets: str
    vcse_brings: str
    vcse_gets: str
    next_step: str
    next_step_due: dt.date | None
    next_step_overdue: bool
    last_activity_at: dt.datetime | None
    members: list[Member]
    topics: list[str]
    created_at: dt.datetime
    updated_at: dt.datetime


class PartnershipSummary(msgspec.Struct):
    id: int
    title: str
    stage: str
    health: str
    funding_call_id: int | None
    next_step: str
    next_step_due: dt.date | None
    last_activity_at: dt.datetime | None


class PartnershipPage(msgspec.Struct):
    items: list[PartnershipSummary]
    next_cursor: str | None
    prev_cursor: str | None


class MemberIn(msgspec.Struct, forbid_unknown_fields=True):
    side: str
    organisation_id: int | None = None
    contact_id: int | None = None
    role: str = ""


class PartnershipIn(msgspec.Struct, forbid_unknown_fields=True):
    """Create (``title`` and ``members`` with both sides required) or PATCH (every field optional).

    ``members`` and ``topics`` (slugs) replace the existing ones. Changing ``stage`` to one it cannot normally
    reach (e.g. completed → idea) needs ``stage_reason``.
    """

    title: str | msgspec.UnsetType = UNSET
    summary: str | msgspec.UnsetType = UNSET
    stage: str | msgspec.UnsetType = UNSET
    stage_reason: str | msgspec.UnsetType = UNSET
    funding_call_id: int | msgspec.UnsetType | None = UNSET
    start_date: dt.date | msgspec.UnsetType | None = UNSET
    end_date: dt.date | msgspec.UnsetType | None = UNSET
    academic_brings: str | msgspec.UnsetType = UNSET
    academic_gets: str | msgspec.UnsetType = UNSET
    vcse_brings: str | msgspec.UnsetType = UNSET
    vcse_gets: str | msgspec.UnsetType = UNSET
    next_step: str | msgspec.UnsetType = UNSET
    next_step_due: dt.date | msgspec.UnsetType | None = UNSET
    members: list[MemberIn] | msgspec.UnsetType = UNSET
    topics: list[str] | msgspec.UnsetType = UNSET


class ActivityOut(msgspec.Struct):
    id: int
    kind: str
    occurred_at: dt.datetime
    summary: str
    recorded_by: str
    created_at: dt.datetime


class ActivityIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: str
    occurred_at: dt.datetime
    summary: str
