"""Internship rules: validation, who may change what, moderation, the public list, registrations of interest,
the closing job and the host reminder.

Who may do what:
- the fellow (admin role, or an admin API key) creates, edits, approves, rejects, closes, marks filled, reopens
  and deletes any listing, and sees every registration of interest;
- an editor (or an editor API key) is scoped to ``organisation_id``: they create and change listings only for
  that organisation (anything else is a 403), their new or changed listings wait for approval (``submitted``),
  they may close or mark filled their own listings and see their registrations of interest;
- everyone else sees published listings and the pages of closed/filled ones, never any personal data.

This module holds the changes (create, update, transitions, delete). The rest of the domain's API lives in
``checks`` (a listing's fields and their validation), ``rules`` (labels, money, closing moment, permissions),
``queries`` (lists, filters, detail), ``interest`` (registrations of interest) and ``lifecycle`` (closing job,
host reminder, moderation emails), and is re-exported here so callers write ``services.X``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.accounts.principal import Principal
from crm.directory.reference import slugify
from crm.internships.checks import *  # noqa: F403
from crm.internships.checks import InternshipData, current_data
from crm.internships.interest import *  # noqa: F403
from crm.internships.lifecycle import *  # noqa: F403
from crm.internships.queries import *  # noqa: F403
from crm.internships.rules import *  # noqa: F403
from crm.internships.rules import (
    I,
    Status,
    TransitionError,
    closes_at_for,
    is_fellow,
    require_fellow,
    require_org,
)


def _snapshot(data: InternshipData, status: str) -> dict[str, Any]:
    snap = dataclasses.asdict(data)
    snap["closing_date"] = data.closing_date.isoformat() if data.closing_date else None
    snap["status"] = status
    # The host contact is personal data: the audit trail says it changed, not what it was.
    snap["host_contact_email"] = "(set)" if data.host_contact_email else ""
    snap["host_contact_name"] = "(set)" if data.host_contact_name else ""
    return snap


RESERVED_SLUGS = {"offer", "feed", "new"}  # paths under /internships/ that are pages, not listings


def _unique_slug(session: Session, title: str, exclude_id: int | None = None) -> str:
    base = slugify(title, max_length=200)
    if base in RESERVED_SLUGS:
        base = f"{base}-internship"
    candidate, n = base, 1
    while True:
        query = select(I.id).where(I.slug == candidate)
        if exclude_id is not None:
            query = query.where(I.id != exclude_id)
        if session.scalar(query) is None:
            return candidate
        n += 1
        candidate = f"{base}-{n}"


def _apply(session: Session, internship: m.Internship, data: InternshipData) -> None:
    assert data.host_organisation_id is not None and data.closing_date is not None
    if internship.closing_date != data.closing_date:
        internship.reminder_sent_at = None  # a new closing date deserves a new reminder
    internship.title = data.title
    internship.host_organisation_id = data.host_organisation_id
    internship.direction = m.InternshipDirection(data.direction)
    internship.description = data.description
    internship.region_id = data.region_id
    internship.mode = m.InternshipMode(data.mode)
    internship.paid = data.paid
    internship.stipend_pence = data.stipend_pence if data.paid else None
    internship.stipend_period = m.StipendPeriod(data.stipend_period) if data.paid and data.stipend_period else None
    internship.hours_per_week = data.hours_per_week
    internship.duration = data.duration
    internship.closing_date = data.closing_date
    internship.closes_at = closes_at_for(data.closing_date)
    internship.apply_url = data.apply_url
    internship.apply_email = data.apply_email
    internship.host_contact_name = data.host_contact_name
    internship.host_contact_email = data.host_contact_email
    session.flush()
    session.execute(delete(m.internship_topics).where(m.internship_topics.c.internship_id == internship.id))
    if data.topic_ids:
        session.execute(
            insert(m.internship_topics), [{"internship_id": internship.id, "topic_id": t} for t in data.topic_ids]
        )
    session.execute(
        delete(m.internship_career_stages).where(m.internship_career_stages.c.internship_id == internship.id)
    )
    if data.career_stages:
        session.execute(
            insert(m.internship_career_stages),
            [{"internship_id": internship.id, "stage": s} for s in data.career_stages],
        )


def create_internship(
    session: Session, actor: Principal, data: InternshipData, *, now: dt.datetime, publish: bool = False
) -> m.Internship:
    """The fellow's listings are drafts or published (``publish``); an editor's wait for approval."""
    assert data.host_organisation_id is not None
    require_org(actor, data.host_organisation_id)
    internship = m.Internship(
        title=data.title,
        slug=_unique_slug(session, data.title),
        host_organisation_id=data.host_organisation_id,
        direction=m.InternshipDirection(data.direction),
        mode=m.InternshipMode(data.mode),
        closing_date=data.closing_date,
        closes_at=closes_at_for(data.closing_date),  # type: ignore[arg-type]
        created_by_user_id=actor.id if actor.id > 0 else None,
    )
    if is_fellow(actor):
        internship.status = Status.PUBLISHED if publish else Status.DRAFT
        if publish:
            internship.published_at = now
            internship.reviewed_at = now
    else:
        internship.status = Status.SUBMITTED if publish else Status.DRAFT
        if publish:
            internship.submitted_at = now
    session.add(internship)
    session.flush()
    _apply(session, internship, data)
    audit.record(
        session,
        actor,
        "create",
        "internship",
        internship.id,
        summary=f"{internship.title} ({internship.status.value})",
        changes=audit.diff({}, _snapshot(data, internship.status.value)),
    )
    return internship


def update_internship(
    session: Session, actor: Principal, internship: m.Internship, data: InternshipData, *, now: dt.datetime
) -> m.Internship:
    require_org(actor, internship.host_organisation_id)
    assert data.host_organisation_id is not None
    require_org(actor, data.host_organisation_id)  # an editor cannot move a listing to another organisation
    before = _snapshot(current_data(session, internship), internship.status.value)
    if internship.slug and data.title != internship.title and internship.status in (Status.DRAFT, Status.SUBMITTED):
        internship.slug = _unique_slug(session, data.title, exclude_id=internship.id)
    _apply(session, internship, data)
    if not is_fellow(actor) and internship.status == Status.PUBLISHED:
        # An editor's change to a live listing goes back to the fellow before the public sees it.
        internship.status = Status.SUBMITTED
        internship.submitted_at = now
    after = _snapshot(data, internship.status.value)
    changes = audit.diff(before, after)
    if changes:
        audit.record(session, actor, "update", "internship", internship.id, summary=internship.title, changes=changes)
    return internship


TRANSITIONS: dict[str, tuple[tuple[Status, ...], Status, bool]] = {
    # action: (allowed from, to, fellow only)
    "submit": ((Status.DRAFT,), Status.SUBMITTED, False),
    "approve": ((Status.SUBMITTED, Status.DRAFT), Status.PUBLISHED, True),
    "reject": ((Status.SUBMITTED,), Status.DRAFT, True),
    "close": ((Status.PUBLISHED, Status.SUBMITTED, Status.DRAFT), Status.CLOSED, False),
    "filled": ((Status.PUBLISHED, Status.CLOSED), Status.FILLED, False),
    "reopen": ((Status.CLOSED, Status.FILLED), Status.PUBLISHED, True),
}


def transition(
    session: Session,
    actor: Principal | None,
    internship: m.Internship,
    action: str,
    *,
    now: dt.datetime,
    note: str = "",
    by: Principal | None = None,
) -> m.Internship:
    """Move a listing to another status. ``actor`` None skips the permission checks (jobs, a host's signed link);
    ``by`` then names who acted in the audit trail (the host through their link) instead of "system"."""
    if action not in TRANSITIONS:
        raise TransitionError("Unknown action.")
    sources, target, fellow_only = TRANSITIONS[action]
    if actor is not None:
        require_org(actor, internship.host_organisation_id)
        if fellow_only:
            require_fellow(actor)
    if internship.status not in sources:
        raise TransitionError(f"A {internship.status.value} listing cannot be changed this way.")
    if target == Status.PUBLISHED and internship.closes_at <= now:
        raise TransitionError("The closing date has passed. Change the closing date first, then publish.")
    before = internship.status.value
    internship.status = target
    if target == Status.PUBLISHED:
        internship.published_at = internship.published_at or now
        internship.reviewed_at = now
        internship.review_note = note[:1000]
        internship.closed_at = None
    elif action == "reject":
        internship.reviewed_at = now
        internship.review_note = note[:1000]
    elif action == "submit":
        internship.submitted_at = now
    elif target in (Status.CLOSED, Status.FILLED):
        internship.closed_at = internship.closed_at or now
    changes = {"status": [before, target.value]}
    if note:
        changes["review_note"] = [None, note[:1000]]
    audit.record(session, actor or by, action, "internship", internship.id, summary=internship.title, changes=changes)
    return internship


def delete_internship(session: Session, actor: Principal, internship: m.Internship) -> None:
    require_org(actor, internship.host_organisation_id)
    audit.record(
        session,
        actor,
        "delete",
        "internship",
        internship.id,
        summary=internship.title,
        changes={"status": [internship.status.value, None]},
    )
    session.delete(internship)
    session.flush()
