"""The fellow's networking pages for an event (issue 20.5): who chose to be seen and introduced, the proposed
introductions after the event (approve, dismiss, send the approved ones after a confirmation), and the speed
networking rounds, printable. Rules are in ``crm.events.networking`` and ``crm.events.speed``."""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from crm import models as m
from crm.events import networking, speed, views
from crm.events.lifecycle import EventProblem
from crm.events.mail import when_text
from crm.web.areas import admin_area
from crm.web.deps import DB, CurrentUser
from crm.web.forms import FormBody
from crm.web.pages import get_or_404
from crm.web.pages import notice as notice_text

NOTICES = {
    "proposed": "New introductions proposed below.",
    "none": "No new introductions: nobody else who opted in has a topic or interest in common.",
    "approved": "Introduction approved.",
    "dismissed": "Introduction dismissed.",
    "sent": "The approved introductions are on their way.",
}


def _page(db: DB, event: m.Event, *, notice: str = "", problem: str = "", status_code: int = 200) -> Template:
    context = {
        "e": event,
        "when": when_text(event),
        "counts": networking.opt_in_counts(db, event.id),
        "shown": networking.shown_to_attendees(db, event.id),
        "intros": networking.introductions(db, event.id),
        "ended": views.now() >= event.ends_at,
        "notice": notice_text(notice, NOTICES),
        "problem": problem,
    }
    return Template("admin/event_networking.html", context=context, status_code=status_code)


@get("/events/{event_id:int}/networking", sync_to_thread=False)
def networking_page(db: DB, event_id: FromPath[int], notice: FromQuery[str] = "") -> Template:
    return _page(db, get_or_404(db, m.Event, event_id, "No such event."), notice=notice)


@post("/events/{event_id:int}/introductions/propose", sync_to_thread=False)
def propose(db: DB, user: CurrentUser, event_id: FromPath[int]) -> Template | Redirect:
    event = get_or_404(db, m.Event, event_id, "No such event.")
    try:
        added = networking.propose(db, user, event, views.now())
    except EventProblem as exc:
        return _page(db, event, problem=str(exc), status_code=409)
    return Redirect(f"/admin/events/{event.id}/networking?notice={'proposed' if added else 'none'}", status_code=303)


@post("/events/{event_id:int}/introductions/{intro_id:int}/{decision:str}", sync_to_thread=False)
def decide(
    db: DB, user: CurrentUser, event_id: FromPath[int], intro_id: FromPath[int], decision: FromPath[str]
) -> Template | Redirect:
    event = get_or_404(db, m.Event, event_id, "No such event.")
    if decision not in {"approve", "dismiss"}:
        return _page(db, event, problem="Choose approve or dismiss.", status_code=422)
    try:
        networking.decide(db, user, event, intro_id, approve=decision == "approve", now=views.now())
    except EventProblem as exc:
        return _page(db, event, problem=str(exc), status_code=409)
    done = "approved" if decision == "approve" else "dismissed"
    return Redirect(f"/admin/events/{event.id}/networking?notice={done}#introductions", status_code=303)


@post("/events/{event_id:int}/introductions/send", sync_to_thread=False)
def send(state: State, db: DB, user: CurrentUser, event_id: FromPath[int], data: FormBody) -> Template | Redirect:
    """The first press shows how many emails will go; the confirmed press sends them."""
    event = get_or_404(db, m.Event, event_id, "No such event.")
    approved = networking.approved_count(db, event.id)
    if not approved:
        return _page(db, event, problem="Approve at least one introduction first.", status_code=422)
    if not data.get("confirm"):
        return Template("admin/event_introductions_confirm.html", context={"e": event, "approved": approved})
    networking.send_approved(db, views.mailer(state), user, event, views.now())
    return Redirect(f"/admin/events/{event.id}/networking?notice=sent", status_code=303)


@get("/events/{event_id:int}/speed-networking", sync_to_thread=False)
def speed_networking(db: DB, event_id: FromPath[int], rounds: FromQuery[str] = "5") -> Template:
    event = get_or_404(db, m.Event, event_id, "No such event.")
    plan = speed.schedule(db, event, rounds)
    context: dict[str, Any] = {
        "e": event,
        "when": when_text(event),
        "rounds": plan,
        "asked": rounds[:3],
        "max_rounds": speed.MAX_ROUNDS,
        "people": sum(len(r.pairs) * 2 + len(r.resting) for r in plan[:1]),
    }
    return Template("admin/event_speed_networking.html", context=context)


route_handlers: list[Any] = admin_area("/admin", [networking_page, propose, decide, send, speed_networking])
