"""Notes and tasks the fellow adds to a contact or an organisation: checked field by field, every change audited.

Why audited although the timeline shows them: a note can be rewritten and a task reopened; the audit trail keeps
what it said before and who changed it (``timeline_note`` / ``timeline_task`` entries, old and new values).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.accounts.principal import Principal
from crm.timefmt import LONDON
from crm.timeline.query import Owner
from crm.validation import Form

NOTE_MAX = 5000
TITLE_MAX = 300
DETAILS_MAX = 2000


def today_london(now: dt.datetime) -> dt.date:
    return now.astimezone(LONDON).date()


def owners(session: Session) -> list[Any]:
    """Who can own a task: the active admins (the fellow and anyone helping), by name."""
    return list(
        session.execute(
            select(m.User.id, m.User.name, m.User.email)
            .where(m.User.role == m.Role.ADMIN, m.User.is_active.is_(True))
            .order_by(m.User.name, m.User.id)
        )
    )


def owner_choices(session: Session) -> list[tuple[str, str]]:
    return [(str(u.id), u.name or u.email) for u in owners(session)]


def _note_snapshot(note: m.TimelineNote) -> dict[str, Any]:
    return {"body": note.body}


def _task_snapshot(task: m.TimelineTask) -> dict[str, Any]:
    return {
        "title": task.title,
        "details": task.details,
        "due_date": task.due_date.isoformat() if task.due_date else None,
        "owner": task.owner_id,
    }


def _record_name(owner: Owner) -> str:
    return f"{owner.entity} #{owner.entity_id}"


def _read_note(form: Form) -> str:
    return form.str("body", required=True, max_length=NOTE_MAX, label="Note")


def add_note(session: Session, actor: Principal | None, owner: Owner, form: Form) -> m.TimelineNote | None:
    """The new note, or None with the form's messages."""
    body = _read_note(form)
    if not form.ok:
        return None
    note = m.TimelineNote(
        contact_id=owner.contact_id,
        organisation_id=owner.organisation_id,
        body=body,
        author_id=actor.id if actor and actor.id > 0 else None,
        author=(actor.name or actor.email) if actor else "system",
    )
    session.add(note)
    session.flush()
    audit.record_changes(
        session,
        actor,
        "timeline_note",
        note.id,
        {},
        _note_snapshot(note),
        summary=_record_name(owner),
        action="created",
    )
    return note


def edit_note(session: Session, actor: Principal | None, note: m.TimelineNote, form: Form) -> bool:
    body = _read_note(form)
    if not form.ok:
        return False
    before = _note_snapshot(note)
    note.body = body
    audit.record_changes(session, actor, "timeline_note", note.id, before, _note_snapshot(note), summary="note")
    return True


def _read_task(session: Session, form: Form) -> dict[str, Any]:
    title = form.line("title", required=True, max_length=TITLE_MAX, label="What needs doing")
    details = form.str("details", max_length=DETAILS_MAX, label="Details")
    due = form.date("due_date", required=True, label="Due date")
    allowed = {str(u.id) for u in owners(session)}
    owner = form.choice("owner_id", allowed, required=True, label="Owner")
    return {"title": title, "details": details, "due_date": due, "owner_id": int(owner) if owner in allowed else None}


def add_task(session: Session, actor: Principal | None, owner: Owner, form: Form) -> m.TimelineTask | None:
    """The new task, or None with the form's messages."""
    values = _read_task(session, form)
    if not form.ok:
        return None
    task = m.TimelineTask(
        contact_id=owner.contact_id,
        organisation_id=owner.organisation_id,
        created_by=(actor.name or actor.email) if actor else "system",
        **values,
    )
    session.add(task)
    session.flush()
    audit.record_changes(
        session,
        actor,
        "timeline_task",
        task.id,
        {},
        _task_snapshot(task),
        summary=_record_name(owner),
        action="created",
    )
    return task


def edit_task(session: Session, actor: Principal | None, task: m.TimelineTask, form: Form) -> bool:
    values = _read_task(session, form)
    if not form.ok:
        return False
    before = _task_snapshot(task)
    for key, value in values.items():
        setattr(task, key, value)
    audit.record_changes(session, actor, "timeline_task", task.id, before, _task_snapshot(task), summary=task.title)
    return True


def set_done(session: Session, actor: Principal | None, task: m.TimelineTask, done: bool, now: dt.datetime) -> None:
    """Complete or reopen a task; doing what is already so changes and records nothing."""
    if done == (task.done_at is not None):
        return
    before = {"done": task.done_at is not None}
    task.done_at = now if done else None
    task.done_by = (actor.name or actor.email if actor else "system") if done else ""
    audit.record(
        session,
        actor,
        "completed" if done else "reopened",
        "timeline_task",
        task.id,
        summary=task.title,
        changes={"done": [before["done"], done]},
    )


def record_of(task_or_note: m.TimelineTask | m.TimelineNote) -> tuple[str, int]:
    """("contacts", id) or ("organisations", id): where the item's timeline is."""
    if task_or_note.contact_id is not None:
        return "contacts", task_or_note.contact_id
    return "organisations", task_or_note.organisation_id  # type: ignore[return-value]


def _task_rows() -> Any:
    t = m.TimelineTask
    return (
        select(
            t.id,
            t.title,
            t.due_date,
            t.done_at,
            t.contact_id,
            t.organisation_id,
            t.owner_id,
            m.User.name.label("owner_name"),
            m.User.email.label("owner_email"),
            m.Contact.name.label("contact_name"),
            m.Organisation.name.label("organisation_name"),
        )
        .outerjoin(m.User, m.User.id == t.owner_id)
        .outerjoin(m.Contact, m.Contact.id == t.contact_id)
        .outerjoin(m.Organisation, m.Organisation.id == t.organisation_id)
    )


def my_tasks(session: Session, user_id: int, *, done_limit: int = 20) -> tuple[list[Any], list[Any]]:
    """(open tasks by due date, the latest done ones): two statements."""
    t = m.TimelineTask
    open_ = list(
        session.execute(_task_rows().where(t.owner_id == user_id, t.done_at.is_(None)).order_by(t.due_date, t.id))
    )
    done = list(
        session.execute(
            _task_rows()
            .where(t.owner_id == user_id, t.done_at.is_not(None))
            .order_by(t.done_at.desc(), t.id.desc())
            .limit(done_limit)
        )
    )
    return open_, done


def overdue_tasks(session: Session, *, now: dt.datetime) -> list[Any]:
    """Open tasks whose due date has passed (Europe/London), oldest due first: one statement, for the weekly nudge."""
    t = m.TimelineTask
    return list(
        session.execute(
            _task_rows().where(t.done_at.is_(None), t.due_date < today_london(now)).order_by(t.due_date, t.id)
        )
    )
