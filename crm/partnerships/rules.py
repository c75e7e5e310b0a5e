"""What a partnership is and the rules every part reads: stages and the usual moves, the input records, health
and overdue next steps.

Health is derived from days since the last activity (or since the record was created when it has none):
fewer than ``partnership_quiet_days`` → active, fewer than ``partnership_dormant_days`` → quiet, else dormant.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, func

from crm import models as m
from crm.accounts.principal import Principal
from crm.errors import FieldErrors
from crm.settings import Settings
from crm.timefmt import LONDON

ENTITY = "partnership"
Stage = m.PartnershipStage

# Moves that need no explanation. Anything else (e.g. completed → idea) is allowed only with a reason, which
# is recorded in the audit history.
ALLOWED: dict[Stage, frozenset[Stage]] = {
    Stage.IDEA: frozenset({Stage.EXPLORING, Stage.PAUSED}),
    Stage.EXPLORING: frozenset({Stage.IDEA, Stage.PROPOSAL, Stage.PAUSED}),
    Stage.PROPOSAL: frozenset({Stage.EXPLORING, Stage.FUNDED, Stage.PAUSED}),
    Stage.FUNDED: frozenset({Stage.ACTIVE, Stage.PAUSED}),
    Stage.ACTIVE: frozenset({Stage.COMPLETED, Stage.PAUSED}),
    Stage.COMPLETED: frozenset(),
    Stage.PAUSED: frozenset({Stage.IDEA, Stage.EXPLORING, Stage.PROPOSAL, Stage.FUNDED, Stage.ACTIVE}),
}
# Stages in which a partnership is expected to be alive; completed and paused ones are never nudged about.
LIVE_STAGES = (Stage.IDEA, Stage.EXPLORING, Stage.PROPOSAL, Stage.FUNDED, Stage.ACTIVE)
STAGE_LABELS = {s: s.value.capitalize() for s in Stage}


# The fields a partnership record and its input share as they are (stage, members and topics are converted).
PLAIN_FIELDS = (
    "title",
    "summary",
    "funding_call_id",
    "start_date",
    "end_date",
    "academic_brings",
    "academic_gets",
    "vcse_brings",
    "vcse_gets",
    "next_step",
    "next_step_due",
)


class PartnershipError(FieldErrors):
    """Bad input for a partnership, field by field."""


@dataclasses.dataclass
class MemberInput:
    side: m.Side
    organisation_id: int | None = None
    contact_id: int | None = None
    role: str = ""


@dataclasses.dataclass
class PartnershipInput:
    title: str
    summary: str = ""
    stage: Stage = Stage.IDEA
    funding_call_id: int | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    academic_brings: str = ""
    academic_gets: str = ""
    vcse_brings: str = ""
    vcse_gets: str = ""
    next_step: str = ""
    next_step_due: dt.date | None = None
    members: list[MemberInput] = dataclasses.field(default_factory=list)
    topic_ids: list[int] = dataclasses.field(default_factory=list)


def health_of(
    last_activity_at: dt.datetime | None, created_at: dt.datetime, now: dt.datetime, settings: Settings
) -> m.Health:
    since = last_activity_at or created_at
    days = (now - since).days
    if days < settings.partnership_quiet_days:
        return m.Health.ACTIVE
    if days < settings.partnership_dormant_days:
        return m.Health.QUIET
    return m.Health.DORMANT


def activity_ref() -> ColumnElement[Any]:
    """When health is counted from: the last activity, or the creation when there is none."""
    return func.coalesce(m.Partnership.last_activity_at, m.Partnership.created_at)


def health_clause(health: m.Health, now: dt.datetime, settings: Settings) -> ColumnElement[bool]:
    """SQL equivalent of ``health_of`` (days are whole days, so the cut-offs are ``now - N days``)."""
    ref = activity_ref()
    quiet_from = now - dt.timedelta(days=settings.partnership_quiet_days)
    dormant_from = now - dt.timedelta(days=settings.partnership_dormant_days)
    if health == m.Health.ACTIVE:
        return ref > quiet_from
    if health == m.Health.QUIET:
        return (ref <= quiet_from) & (ref > dormant_from)
    return ref <= dormant_from


def today_london(now: dt.datetime) -> dt.date:
    return now.astimezone(LONDON).date()


def is_overdue(next_step: str, due: dt.date | None, stage: Stage, now: dt.datetime) -> bool:
    return bool(next_step) and due is not None and due < today_london(now) and stage in LIVE_STAGES


def can_move(current: Stage, target: Stage) -> bool:
    return target in ALLOWED[current]


def sees_all(actor: Principal | None) -> bool:
    """Admins and the system (jobs, commands: no actor) work on every partnership; an editor only on those their
    organisation belongs to, so one partner never reads or changes another's plans."""
    return actor is None or actor.is_admin


def may_see(actor: Principal | None, member_organisation_ids: Iterable[int | None]) -> bool:
    if sees_all(actor):
        return True
    assert actor is not None
    return actor.organisation_id is not None and actor.organisation_id in set(member_organisation_ids)


def own_membership_errors(actor: Principal | None, members: Iterable[MemberInput]) -> dict[str, str]:
    """An editor's new or changed partnership must keep their organisation as a member: otherwise they would create
    or turn a record into one they can no longer see (or hand a partnership to another organisation)."""
    if sees_all(actor):
        return {}
    assert actor is not None
    if actor.organisation_id is None:
        return {"members": "Your account is not linked to an organisation yet: ask the fellow to link it first."}
    if not may_see(actor, (mem.organisation_id for mem in members)):
        return {"members": "Keep your own organisation as a member of the partnership."}
    return {}
