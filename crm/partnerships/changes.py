"""Writing partnership records: validation, create, edit, stage moves (an unusual one needs a reason), delete,
and the activity log that drives health. Every change is audited; services never commit."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, aliased

from crm import models as m
from crm.accounts.principal import Principal
from crm.audit import record, record_changes
from crm.directory.taxonomy import linked_names
from crm.errors import Forbidden
from crm.partnerships.rules import (
    ENTITY,
    STAGE_LABELS,
    PartnershipError,
    PartnershipInput,
    Stage,
    can_move,
    health_of,
    may_see,
    own_membership_errors,
    sees_all,
)
from crm.settings import Settings
from crm.timefmt import LONDON


def validate(session: Session, data: PartnershipInput) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not data.title.strip():
        errors["title"] = "Enter a title for the partnership."
    elif len(data.title) > 300:
        errors["title"] = "The title must be at most 300 characters."
    if data.start_date and data.end_date and data.end_date < data.start_date:
        errors["end_date"] = "The end date must be on or after the start date."
    if data.next_step_due and not data.next_step.strip():
        errors["next_step"] = "Describe the next step, or clear its due date."
    if len(data.next_step) > 500:
        errors["next_step"] = "The next step must be at most 500 characters."
    sides = {mem.side for mem in data.members}
    if m.Side.ACADEMIC not in sides:
        errors["members"] = "Add at least one member on the academic side."
    elif m.Side.VCSE not in sides:
        errors["members"] = "Add at least one member on the VCSE side."
    org_ids = {mem.organisation_id for mem in data.members if mem.organisation_id}
    contact_ids = {mem.contact_id for mem in data.members if mem.contact_id}
    if any(mem.organisation_id is None and mem.contact_id is None for mem in data.members):
        errors.setdefault("members", "Each member needs an organisation or a contact.")
    if org_ids and len(set(session.scalars(select(m.Organisation.id).where(m.Organisation.id.in_(org_ids))))) != len(
        org_ids
    ):
        errors.setdefault("members", "Choose member organisations from the directory.")
    if contact_ids and len(set(session.scalars(select(m.Contact.id).where(m.Contact.id.in_(contact_ids))))) != len(
        contact_ids
    ):
        errors.setdefault("members", "Choose member contacts from the directory.")
    if data.funding_call_id is not None and session.get(m.FundingCall, data.funding_call_id) is None:
        errors["funding_call_id"] = "Choose a funding call from the list."
    if data.topic_ids and len(set(session.scalars(select(m.Topic.id).where(m.Topic.id.in_(data.topic_ids))))) != len(
        set(data.topic_ids)
    ):
        errors["topic_ids"] = "Choose topics from the list."
    return errors


def snapshot(session: Session, p: m.Partnership) -> dict[str, Any]:
    members: list[str] = []
    topics: list[str] = []
    if p.id:
        org = aliased(m.Organisation)
        for side, org_name, contact_name, role in session.execute(
            select(m.PartnershipMember.side, org.name, m.Contact.name, m.PartnershipMember.role)
            .outerjoin(org, org.id == m.PartnershipMember.organisation_id)
            .outerjoin(m.Contact, m.Contact.id == m.PartnershipMember.contact_id)
            .where(m.PartnershipMember.partnership_id == p.id)
            .order_by(m.PartnershipMember.side, m.PartnershipMember.id)
        ):
            who = " / ".join(x for x in (org_name, contact_name) if x)
            members.append(f"{side.value}: {who}{' (' + role + ')' if role else ''}")
        topics = linked_names(session, m.partnership_topics.c.partnership_id, p.id, m.Topic.name)
    return {
        "title": p.title,
        "summary": p.summary,
        "stage": p.stage.value if p.stage else None,
        "funding_call_id": p.funding_call_id,
        "start_date": p.start_date.isoformat() if p.start_date else None,
        "end_date": p.end_date.isoformat() if p.end_date else None,
        "academic_brings": p.academic_brings,
        "academic_gets": p.academic_gets,
        "vcse_brings": p.vcse_brings,
        "vcse_gets": p.vcse_gets,
        "next_step": p.next_step,
        "next_step_due": p.next_step_due.isoformat() if p.next_step_due else None,
        "members": members,
        "topics": topics,
    }


def check_may_change(session: Session, actor: Principal | None, p: m.Partnership) -> None:
    """Refuse an editor's change to a partnership their organisation is not in (the pages and API already answer
    404 for it; this keeps the rule true for any other caller)."""
    if sees_all(actor):
        return
    members = session.scalars(
        select(m.PartnershipMember.organisation_id).where(m.PartnershipMember.partnership_id == p.id)
    )
    if not may_see(actor, members):
        raise Forbidden("Editors may change only their own organisation's partnerships.")


def _editor_errors(session: Session, actor: Principal | None, data: PartnershipInput, p: m.Partnership | None) -> dict:
    """What an editor may not do here: leave their organisation out, or add people from other organisations
    (contacts are private; the ones already members stay)."""
    errors = own_membership_errors(actor, data.members)
    wanted = {mem.contact_id for mem in data.members if mem.contact_id}
    if errors or sees_all(actor) or not wanted:
        return errors
    assert actor is not None
    allowed = set(
        session.scalars(
            select(m.Affiliation.contact_id).where(
                m.Affiliation.organisation_id == actor.organisation_id, m.Affiliation.contact_id.in_(wanted)
            )
        )
    )
    if p is not None and p.id is not None:
        allowed |= set(
            session.scalars(select(m.PartnershipMember.contact_id).where(m.PartnershipMember.partnership_id == p.id))
        )
    if wanted - allowed:
        return {"members": "Choose people from your own organisation; the fellow can add others."}
    return {}


def _apply(session: Session, p: m.Partnership, data: PartnershipInput) -> None:
    for name in (
        "summary",
        "academic_brings",
        "academic_gets",
        "vcse_brings",
        "vcse_gets",
        "next_step",
    ):
        setattr(p, name, getattr(data, name).strip())
    p.title = data.title.strip()
    p.funding_call_id = data.funding_call_id
    p.start_date = data.start_date
    p.end_date = data.end_date
    p.next_step_due = data.next_step_due
    if p.id is None:
        session.add(p)
        session.flush()
    else:
        session.execute(delete(m.PartnershipMember).where(m.PartnershipMember.partnership_id == p.id))
        session.execute(delete(m.partnership_topics).where(m.partnership_topics.c.partnership_id == p.id))
    if data.members:
        session.execute(
            insert(m.PartnershipMember),
            [
                {
                    "partnership_id": p.id,
                    "side": mem.side,
                    "organisation_id": mem.organisation_id,
                    "contact_id": mem.contact_id,
                    "role": mem.role.strip()[:200],
                }
                for mem in data.members
            ],
        )
    if data.topic_ids:
        session.execute(
            insert(m.partnership_topics),
            [{"partnership_id": p.id, "topic_id": t} for t in sorted(set(data.topic_ids))],
        )
    session.flush()


def create_partnership(
    session: Session,
    actor: Principal | None,
    data: PartnershipInput,
    *,
    now: dt.datetime,
    require_both_sides: bool = True,
) -> m.Partnership:
    errors = validate(session, data)
    if not require_both_sides and errors.get("members", "").startswith("Add at least one member"):
        errors.pop("members")
    errors = {**_editor_errors(session, actor, data, None), **errors}
    if errors:
        raise PartnershipError(errors)
    p = m.Partnership(stage=data.stage, stage_changed_at=now, created_at=now, updated_at=now)
    _apply(session, p, data)
    record_changes(session, actor, ENTITY, p.id, {}, snapshot(session, p), summary=p.title, action="created")
    return p


def update_partnership(
    session: Session, actor: Principal | None, p: m.Partnership, data: PartnershipInput, *, now: dt.datetime
) -> dict[str, Any]:
    """Everything but the stage (moves go through ``move_stage`` so they can ask for a reason)."""
    check_may_change(session, actor, p)
    errors = {**_editor_errors(session, actor, data, p), **validate(session, data)}
    if errors:
        raise PartnershipError(errors)
    before = snapshot(session, p)
    _apply(session, p, data)
    changes = record_changes(session, actor, ENTITY, p.id, before, snapshot(session, p), summary=p.title)
    if changes:
        p.updated_at = now
    return changes


def move_stage(
    session: Session, actor: Principal | None, p: m.Partnership, target: Stage, *, reason: str = "", now: dt.datetime
) -> None:
    check_may_change(session, actor, p)
    if target == p.stage:
        return
    reason = reason.strip()
    if not can_move(p.stage, target) and not reason:
        raise PartnershipError(
            {
                "reason": f"Moving from {STAGE_LABELS[p.stage].lower()} to {STAGE_LABELS[target].lower()} is not a "
                "usual step. Give a reason; it is kept in the history."
            }
        )
    if len(reason) > 500:
        raise PartnershipError({"reason": "The reason must be at most 500 characters."})
    before = p.stage.value
    p.stage = target
    p.stage_changed_at = now
    p.updated_at = now
    summary = f"stage {before} → {target.value}" + (f" (reason: {reason})" if reason else "")
    record(session, actor, "moved", ENTITY, p.id, summary=summary, changes={"stage": [before, target.value]})


def delete_partnership(session: Session, actor: Principal | None, p: m.Partnership) -> None:
    check_may_change(session, actor, p)
    record_changes(session, actor, ENTITY, p.id, snapshot(session, p), {}, summary=p.title, action="deleted")
    session.delete(p)
    session.flush()


def _refresh_last_activity(session: Session, p: m.Partnership, now: dt.datetime, settings: Settings | None) -> None:
    p.last_activity_at = session.scalar(
        select(func.max(m.PartnershipActivity.occurred_at)).where(m.PartnershipActivity.partnership_id == p.id)
    )
    if settings is not None and health_of(p.last_activity_at, p.created_at, now, settings) == m.Health.ACTIVE:
        p.nudged_health = m.Health.ACTIVE  # alive again: a later quiet spell is news again


def add_activity(
    session: Session,
    actor: Principal | None,
    p: m.Partnership,
    *,
    kind: m.ActivityKind,
    occurred_at: dt.datetime,
    summary: str,
    now: dt.datetime,
    settings: Settings | None = None,
) -> m.PartnershipActivity:
    check_may_change(session, actor, p)
    errors: dict[str, str] = {}
    if occurred_at > now + dt.timedelta(days=1):
        errors["occurred_at"] = "Record activity that has happened: the date is in the future."
    if not summary.strip():
        errors["summary"] = "Say briefly what happened."
    elif len(summary) > 5000:
        errors["summary"] = "Keep the summary under 5,000 characters."
    if errors:
        raise PartnershipError(errors)
    activity = m.PartnershipActivity(
        partnership_id=p.id,
        kind=kind,
        occurred_at=occurred_at,
        summary=summary.strip(),
        recorded_by_id=actor.id if actor and actor.id > 0 else None,
        recorded_by=actor.email if actor else "system",
        created_at=now,
    )
    session.add(activity)
    session.flush()
    _refresh_last_activity(session, p, now, settings)
    record(
        session,
        actor,
        "activity",
        ENTITY,
        p.id,
        summary=f"{kind.value} on {occurred_at.astimezone(LONDON):%d %b %Y}: {summary.strip()[:200]}",
    )
    return activity


def delete_activity(
    session: Session, actor: Principal | None, p: m.Partnership, activity: m.PartnershipActivity, *, now: dt.datetime
) -> None:
    check_may_change(session, actor, p)
    record(session, actor, "activity deleted", ENTITY, p.id, summary=f"{activity.kind.value}: {activity.summary[:200]}")
    session.delete(activity)
    session.flush()
    _refresh_last_activity(session, p, now, None)
