"""The weekly nudge: live partnerships whose health got worse since it was last reported, and overdue next steps,
emailed to every admin once per ISO week."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.services import active_admins, email_admins
from crm.mailing.render import EmailRenderer
from crm.partnerships.queries import ROW_COLUMNS
from crm.partnerships.rules import LIVE_STAGES, activity_ref, health_clause, today_london
from crm.settings import Settings
from crm.timefmt import LONDON
from crm.timeline.notes import overdue_tasks


@dataclasses.dataclass
class Nudge:
    turned_quiet: list[Any]
    turned_dormant: list[Any]
    overdue: list[Any]
    overdue_tasks: list[Any] = dataclasses.field(default_factory=list)  # the timeline's open tasks past their date

    @property
    def empty(self) -> bool:
        return not (self.turned_quiet or self.turned_dormant or self.overdue or self.overdue_tasks)


def collect_nudges(session: Session, *, now: dt.datetime, settings: Settings) -> Nudge:
    """Live partnerships whose health got worse than what was last reported, and overdue next steps."""
    cols = (*ROW_COLUMNS, m.Partnership.nudged_health)
    live = m.Partnership.stage.in_(LIVE_STAGES) & m.Partnership.archived_at.is_(None)
    quiet = list(
        session.execute(
            select(*cols)
            .where(live, health_clause(m.Health.QUIET, now, settings), m.Partnership.nudged_health == m.Health.ACTIVE)
            .order_by(activity_ref(), m.Partnership.id)
        )
    )
    dormant = list(
        session.execute(
            select(*cols)
            .where(
                live, health_clause(m.Health.DORMANT, now, settings), m.Partnership.nudged_health != m.Health.DORMANT
            )
            .order_by(activity_ref(), m.Partnership.id)
        )
    )
    overdue = list(
        session.execute(
            select(*cols)
            .where(live, m.Partnership.next_step != "", m.Partnership.next_step_due < today_london(now))
            .order_by(m.Partnership.next_step_due, m.Partnership.id)
        )
    )
    tasks = overdue_tasks(session, now=now)
    return Nudge(turned_quiet=quiet, turned_dormant=dormant, overdue=overdue, overdue_tasks=tasks)


def iso_week_key(now: dt.datetime) -> str:
    year, week, _ = now.astimezone(LONDON).isocalendar()
    return f"{year}-W{week:02d}"


def send_weekly_nudge(session: Session, renderer: EmailRenderer, settings: Settings, *, now: dt.datetime) -> int:
    """Queue one email per admin listing what needs attention; nothing when there is nothing. Returns emails queued.

    Idempotent per ISO week (Europe/London): the outbox key is ``partnership-nudge:{week}:{user}``.
    """
    nudge = collect_nudges(session, now=now, settings=settings)
    if nudge.empty:
        return 0
    week = iso_week_key(now)
    admins = active_admins(session)
    base = settings.base_url.rstrip("/")

    def item(row: Any) -> dict[str, Any]:
        days = (now - (row.last_activity_at or row.created_at)).days
        return {
            "title": row.title,
            "stage": row.stage.value,
            "days_since_activity": days,
            "next_step": row.next_step,
            "next_step_due": row.next_step_due.strftime("%-d %B %Y") if row.next_step_due else "",
            "url": f"{base}/admin/partnerships/{row.id}",
        }

    def task_item(row: Any) -> dict[str, Any]:
        section, record_id, record = (
            ("contacts", row.contact_id, row.contact_name)
            if row.contact_id
            else ("organisations", row.organisation_id, row.organisation_name)
        )
        return {
            "title": row.title,
            "record": record,
            "owner": row.owner_name or row.owner_email or "nobody",
            "due": row.due_date.strftime("%-d %B %Y"),
            "url": f"{base}/admin/{section}/{record_id}/timeline",
        }

    context = {
        "week": week,
        "turned_quiet": [item(r) for r in nudge.turned_quiet],
        "turned_dormant": [item(r) for r in nudge.turned_dormant],
        "overdue": [item(r) for r in nudge.overdue],
        "overdue_tasks": [task_item(t) for t in nudge.overdue_tasks],
        "quiet_days": settings.partnership_quiet_days,
        "dormant_days": settings.partnership_dormant_days,
        "list_url": f"{base}/admin/partnerships",
    }
    queued = email_admins(
        session, renderer, admins, key=f"partnership-nudge:{week}", kind="partnership_nudge", context=context
    )
    if admins:
        # Remember what we reported so next week lists only what changed since.
        if nudge.turned_quiet:
            session.execute(
                update(m.Partnership)
                .where(m.Partnership.id.in_([r.id for r in nudge.turned_quiet]))
                .values(nudged_health=m.Health.QUIET)
            )
        if nudge.turned_dormant:
            session.execute(
                update(m.Partnership)
                .where(m.Partnership.id.in_([r.id for r in nudge.turned_dormant]))
                .values(nudged_health=m.Health.DORMANT)
            )
    return queued
