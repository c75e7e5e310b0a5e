"""The check-in page for the day of an event (/admin/events/{id}/check-in): made for a phone at the door — a search,
one large button per person, a walk-in form. Rules are in ``crm.events.checkin``."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from crm import models as m
from crm.errors import FieldErrors
from crm.events import checkin, views
from crm.events.lifecycle import EventProblem
from crm.events.mail import when_text
from crm.web.areas import admin_area
from crm.web.deps import DB, CurrentUser
from crm.web.forms import Form, FormBody
from crm.web.pages import get_or_404, is_htmx


def _page(
    request: Request[Any, Any, Any],
    db: DB,
    event: m.Event,
    *,
    q: str = "",
    notice: str = "",
    problem: str = "",
    form: Form | None = None,
    status_code: int = 200,
) -> Template:
    rows = checkin.door_list(db, event.id, q)
    context = {
        "e": event,
        "when": when_text(event),
        "rows": rows,
        "counts": checkin.counts(checkin.door_list(db, event.id)) if q else checkin.counts(rows),
        "q": q,
        "notice": notice,
        "problem": problem or checkin.check_window(event, views.now()) or "",
        "form": form or Form({}),
    }
    template = "admin/event_checkin_list.html" if is_htmx(request.headers) else "admin/event_checkin.html"
    return Template(template, context=context, status_code=status_code)


@get("/events/{event_id:int}/check-in", sync_to_thread=False)
def checkin_page(
    request: Request[Any, Any, Any],
    db: DB,
    event_id: FromPath[int],
    q: FromQuery[str] = "",
    notice: FromQuery[str] = "",
) -> Template:
    event = get_or_404(db, m.Event, event_id, "No such event.")
    return _page(request, db, event, q=q[:100], notice=notice[:200])


def _back(event: m.Event, q: str, notice: str) -> Redirect:
    query = f"?notice={quote(notice)}" + (f"&q={quote(q)}" if q else "")
    return Redirect(f"/admin/events/{event.id}/check-in{query}", status_code=303)


@post("/events/{event_id:int}/check-in/{invitation_id:int}", sync_to_thread=False)
def checkin_mark(
    request: Request[Any, Any, Any],
    db: DB,
    user: CurrentUser,
    event_id: FromPath[int],
    invitation_id: FromPath[int],
    data: FormBody,
) -> Template | Redirect:
    event = get_or_404(db, m.Event, event_id, "No such event.")
    form = Form(data)
    here, q = form.str("here") != "0", form.str("q", max_length=100)
    try:
        invitation = checkin.mark(db, user, event, invitation_id, here, views.now())
    except EventProblem as exc:
        return _page(request, db, event, q=q, problem=str(exc), status_code=409)
    name = db.get(m.Contact, invitation.contact_id)
    who = name.name if name else "They"
    return _back(event, q, f"{who} {'is marked here' if here else 'is no longer marked here'}.")


@post("/events/{event_id:int}/check-in/walk-in", sync_to_thread=False)
def checkin_walk_in(
    request: Request[Any, Any, Any], db: DB, user: CurrentUser, event_id: FromPath[int], data: FormBody
) -> Template | Redirect:
    event = get_or_404(db, m.Event, event_id, "No such event.")
    form = Form(data)
    name = form.str("name", max_length=200)
    try:
        checkin.walk_in(
            db,
            user,
            event,
            name,
            form.str("email", max_length=320),
            form.str("organisation", max_length=300),
            views.now(),
        )
    except FieldErrors as exc:
        for key, message in exc.errors.items():
            form.add_error(key, message)
        return _page(request, db, event, form=form, status_code=422)
    except EventProblem as exc:
        return _page(request, db, event, form=form, problem=str(exc), status_code=409)
    return _back(event, "", f"{' '.join(name.split())} is added as a walk-in and marked here.")


route_handlers: list[Any] = admin_area("/admin", [checkin_page, checkin_mark, checkin_walk_in])
