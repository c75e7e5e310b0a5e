"""The fellow's timeline pages: a contact's or an organisation's timeline (filter, pages, add a note or a task),
editing a note or a task, completing and reopening a task, and "My tasks" (/admin/tasks). Admins only: notes are
the fellow's own working notes, never shown to editors."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.principal import Principal
from crm.timeline import notes, wording
from crm.timeline.query import Owner, timeline
from crm.web.areas import admin_area
from crm.web.deps import DB, CurrentUser
from crm.web.forms import Form, FormBody
from crm.web.pages import get_or_404
from crm.web.pages import notice as notice_text

NOTICES = {
    "note": "Note added.",
    "task": "Task added.",
    "note-saved": "Note saved.",
    "task-saved": "Task saved.",
    "done": "Task marked as done.",
    "reopened": "Task reopened.",
}
LINKS = {
    "invitation": "/admin/events/{}",
    "rsvp": "/admin/events/{}",
    "attendance": "/admin/events/{}",
    "internship": "/admin/internships/{}",
    "partnership": "/admin/partnerships/{}",
    "involvement": "/admin/involvement/records/{}/edit",
    "consent": "/admin/subscribers/{}",
    "email": "/admin/campaigns/{}/report",  # only a campaign's email carries a link (its campaign)
}


@dataclasses.dataclass(frozen=True, slots=True)
class Record:
    """The contact or organisation a timeline belongs to, as its pages need it."""

    owner: Owner
    name: str
    section: str  # "contacts" or "organisations"

    @property
    def url(self) -> str:
        return f"/admin/{self.section}/{self.owner.entity_id}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _record(db: Session, section: str, record_id: int) -> Record:
    if section == "contacts":
        contact = get_or_404(db, m.Contact, record_id, "No such contact.")
        return Record(Owner(contact_id=contact.id, contact_email=contact.email), contact.name, section)
    org = get_or_404(db, m.Organisation, record_id, "No such organisation.")
    return Record(Owner(organisation_id=org.id), org.name, section)


def _task_defaults(user: Principal | None) -> dict[str, Any]:
    return {"owner_id": str(user.id) if user else ""}


def _timeline_page(
    request: Request[Any, Any, Any],
    db: Session,
    user: Principal | None,
    record: Record,
    *,
    note_form: Form | None = None,
    task_form: Form | None = None,
    notice: str = "",
) -> Template:
    kinds = [k for k in request.query_params.getall("kind", []) if k in wording.KINDS]
    cursor = request.query_params.get("cursor", "")[:500]
    page = timeline(db, record.owner, kinds=kinds, cursor=cursor)
    note_form = note_form or Form({})
    task_form = task_form or Form(_task_defaults(user))
    refused = bool(note_form.errors or task_form.errors)
    return Template(
        "admin/timeline.html",
        context={
            "record": record,
            "page": page,
            "kinds": wording.KINDS,
            "chosen": kinds,
            "filter_query": "&".join(f"kind={k}" for k in kinds),
            "note_form": note_form,
            "task_form": task_form,
            "owner_choices": notes.owner_choices(db),
            "links": LINKS,
            "today": notes.today_london(_now()),
            "notice": notice_text(notice, NOTICES),
        },
        status_code=422 if refused else 200,
    )


@get("/contacts/{record_id:int}/timeline", sync_to_thread=False)
def contact_timeline(
    request: Request[Any, Any, Any], db: DB, user: CurrentUser, record_id: FromPath[int], notice: FromQuery[str] = ""
) -> Template:
    return _timeline_page(request, db, user, _record(db, "contacts", record_id), notice=notice)


@get("/organisations/{record_id:int}/timeline", sync_to_thread=False)
def organisation_timeline(
    request: Request[Any, Any, Any], db: DB, user: CurrentUser, record_id: FromPath[int], notice: FromQuery[str] = ""
) -> Template:
    return _timeline_page(request, db, user, _record(db, "organisations", record_id), notice=notice)


def _add_note(request: Request[Any, Any, Any], db: Session, user: Principal | None, record: Record, data: Any) -> Any:
    form = Form(data)
    if notes.add_note(db, user, record.owner, form) is None:
        return _timeline_page(request, db, user, record, note_form=form)
    return Redirect(f"{record.url}/timeline?notice=note", status_code=303)


def _add_task(request: Request[Any, Any, Any], db: Session, user: Principal | None, record: Record, data: Any) -> Any:
    form = Form(data)
    if notes.add_task(db, user, record.owner, form) is None:
        return _timeline_page(request, db, user, record, task_form=form)
    return Redirect(f"{record.url}/timeline?notice=task", status_code=303)


@post("/contacts/{record_id:int}/notes", sync_to_thread=False)
def contact_note(
    request: Request[Any, Any, Any], db: DB, user: CurrentUser, record_id: FromPath[int], data: FormBody
) -> Template | Redirect:
    return _add_note(request, db, user, _record(db, "contacts", record_id), data)


@post("/organisations/{record_id:int}/notes", sync_to_thread=False)
def organisation_note(
    request: Request[Any, Any, Any], db: DB, user: CurrentUser, record_id: FromPath[int], data: FormBody
) -> Template | Redirect:
    return _add_note(request, db, user, _record(db, "organisations", record_id), data)


@post("/contacts/{record_id:int}/tasks", sync_to_thread=False)
def contact_task(
    request: Request[Any, Any, Any], db: DB, user: CurrentUser, record_id: FromPath[int], data: FormBody
) -> Template | Redirect:
    return _add_task(request, db, user, _record(db, "contacts", record_id), data)


@post("/organisations/{record_id:int}/tasks", sync_to_thread=False)
def organisation_task(
    request: Request[Any, Any, Any], db: DB, user: CurrentUser, record_id: FromPath[int], data: FormBody
) -> Template | Redirect:
    return _add_task(request, db, user, _record(db, "organisations", record_id), data)


def _item_record(db: Session, item: m.TimelineNote | m.TimelineTask) -> Record:
    section, record_id = notes.record_of(item)
    return _record(db, section, record_id)


def _note_form(db: Session, note: m.TimelineNote, form: Form) -> Template:
    context = {"note": note, "record": _item_record(db, note), "form": form}
    return Template("admin/timeline_note_form.html", context=context, status_code=422 if form.errors else 200)


@get("/notes/{note_id:int}/edit", sync_to_thread=False)
def note_edit(db: DB, note_id: FromPath[int]) -> Template:
    note = get_or_404(db, m.TimelineNote, note_id, "No such note.")
    return _note_form(db, note, Form({"body": note.body}))


@post("/notes/{note_id:int}/edit", sync_to_thread=False)
def note_update(db: DB, user: CurrentUser, note_id: FromPath[int], data: FormBody) -> Template | Redirect:
    note = get_or_404(db, m.TimelineNote, note_id, "No such note.")
    form = Form(data)
    if not notes.edit_note(db, user, note, form):
        return _note_form(db, note, form)
    return Redirect(f"{_item_record(db, note).url}/timeline?notice=note-saved", status_code=303)


def _task_form(db: Session, task: m.TimelineTask, form: Form) -> Template:
    context = {
        "task": task,
        "record": _item_record(db, task),
        "form": form,
        "owner_choices": notes.owner_choices(db),
    }
    return Template("admin/timeline_task_form.html", context=context, status_code=422 if form.errors else 200)


@get("/tasks/{task_id:int}/edit", sync_to_thread=False)
def task_edit(db: DB, task_id: FromPath[int]) -> Template:
    task = get_or_404(db, m.TimelineTask, task_id, "No such task.")
    data = {
        "title": task.title,
        "details": task.details,
        "due_date": task.due_date.isoformat(),
        "owner_id": str(task.owner_id or ""),
    }
    return _task_form(db, task, Form(data))


@post("/tasks/{task_id:int}/edit", sync_to_thread=False)
def task_update(db: DB, user: CurrentUser, task_id: FromPath[int], data: FormBody) -> Template | Redirect:
    task = get_or_404(db, m.TimelineTask, task_id, "No such task.")
    form = Form(data)
    if not notes.edit_task(db, user, task, form):
        return _task_form(db, task, form)
    return Redirect(f"{_item_record(db, task).url}/timeline?notice=task-saved", status_code=303)


def _back(data: Any, default: str) -> str:
    """Where a complete/reopen button returns to: "My tasks" or the timeline (only these two, never any URL)."""
    return "/admin/tasks" if str((data or {}).get("back", "")) == "tasks" else default


@post("/tasks/{task_id:int}/complete", sync_to_thread=False)
def task_complete(db: DB, user: CurrentUser, task_id: FromPath[int], data: FormBody) -> Redirect:
    task = get_or_404(db, m.TimelineTask, task_id, "No such task.")
    notes.set_done(db, user, task, True, _now())
    return Redirect(f"{_back(data, _item_record(db, task).url + '/timeline')}?notice=done", status_code=303)


@post("/tasks/{task_id:int}/reopen", sync_to_thread=False)
def task_reopen(db: DB, user: CurrentUser, task_id: FromPath[int], data: FormBody) -> Redirect:
    task = get_or_404(db, m.TimelineTask, task_id, "No such task.")
    notes.set_done(db, user, task, False, _now())
    return Redirect(f"{_back(data, _item_record(db, task).url + '/timeline')}?notice=reopened", status_code=303)


@get("/tasks", sync_to_thread=False)
def my_tasks(db: DB, user: CurrentUser, notice: FromQuery[str] = "") -> Template:
    open_, done = notes.my_tasks(db, user.id if user else 0)
    return Template(
        "admin/my_tasks.html",
        context={
            "open_tasks": open_,
            "done_tasks": done,
            "today": notes.today_london(_now()),
            "notice": notice_text(notice, NOTICES),
        },
    )


route_handlers: list[Any] = admin_area(
    "/admin",
    [
        contact_timeline,
        organisation_timeline,
        contact_note,
        organisation_note,
        contact_task,
        organisation_task,
        note_edit,
        note_update,
        task_edit,
        task_update,
        task_complete,
        task_reopen,
        my_tasks,
    ],
)
