"""Hosts without an account (issue 20 items 8 and 9): "Offer an internship", the public form the fellow moderates,
and the private manage page a host opens with the signed link from their email (change, close, extend, and the
registrations of interest of that listing only, with their statuses).

Every manage route reads the token first (query string on GET, hidden field on POST); a tampered, replaced or
foreign link is the "this link does not work" page (400), an expired one offers a new link sent only to the
listing's own host address, a deleted listing is the 404 page. Nothing here ever answers 500 for bad input.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from crm import models as m
from crm import public_forms
from crm.errors import FieldErrors, NotFound
from crm.internships import hosting, interest_status, services, views
from crm.tokens import TokenError
from crm.web.deps import DB, AppSettings, CurrentUser, client_ip
from crm.web.forms import Form, FormBody
from crm.web.pages import attempt, form_page
from crm.web.pages import notice as notice_text

NOTICES = {
    "saved": "Saved. The fellow will check your changes before the listing appears again.",
    "submitted": "Saved and sent to the fellow for approval.",
    "extended": "The closing date is extended.",
    "closed": "The listing is closed. Its page stays and says so.",
    "filled": "The listing is marked as filled. Its page stays and says so.",
    "unchanged": "Nothing was changed.",
    "status": "Status saved.",
    "told": "Status saved, and we have emailed the applicant.",
}
PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


def _selected(raw: Any) -> set[str]:
    values = raw if isinstance(raw, list) else ([] if raw is None else [raw])
    return {str(v) for v in values}


def _fields_context(db: Session, form: Form) -> dict[str, Any]:
    topics, regions = services.filter_options(db)
    return {
        **views.common_context(),
        "host_choices": hosting.HOST_CHOICES,
        "topics": topics,
        "regions": regions,
        "selected_topics": _selected(form.data.get("topic_ids")),
        "selected_stages": _selected(form.data.get("career_stages")),
    }


# ---------------------------------------------------------------------------------------------------------------
# Offer an internship (public, moderated)


def _offer_form(db: Session, user: Any, form: Form, **extra: Any) -> Template:
    can_post = user is not None and (user.is_admin or (user.has_role(m.Role.EDITOR) and user.organisation_id))
    return form_page(
        "public/internship_offer.html", {**_fields_context(db, form), "can_post": can_post, **extra}, form=form
    )


@get("/internships/offer", sync_to_thread=False)
def offer_page(db: DB, user: CurrentUser) -> Template:
    """For hosts: what a listing needs, and the form that sends it to the fellow."""
    return _offer_form(db, user, Form({}))


@post("/internships/offer", sync_to_thread=False)
def offer_submit(
    request: Request[Any, Any, Any], state: State, db: DB, settings: AppSettings, user: CurrentUser, data: FormBody
) -> Template:
    form = Form(data)
    if public_forms.trapped(data, "internship offer"):  # a field people cannot see: only robots fill it in
        return Template("public/internship_offer_done.html", context={"title": form.str("title"), "email": ""})
    now = views.now()
    post_data = attempt(form, lambda: hosting.validate_host_post(db, data, now=now))
    if post_data is None:
        return _offer_form(db, user, form)
    if not state.rate_limiter.allow(f"internship-offer:{client_ip(request)}", hosting.HOST_FORM_LIMIT_PER_HOUR, 3600):
        page = _offer_form(db, user, form, limited=True)
        page.status_code = 429
        page.headers["Retry-After"] = "3600"
        return page
    internship = hosting.submit_host_post(db, state.renderer, post_data, base_url=settings.base_url, now=now)
    return Template(
        "public/internship_offer_done.html",
        context={"title": internship.title, "email": internship.host_contact_email},
    )


# ---------------------------------------------------------------------------------------------------------------
# The manage link


def _problem(internship_id: int, exc: TokenError, status_code: int = 400) -> Template:
    return Template(
        "public/internship_manage_problem.html",
        context={"problem": str(exc), "expired": exc.expired, "internship_id": internship_id},
        status_code=status_code,
        headers=PRIVATE,
    )


def _open(state: State, db: Session, internship_id: int, token: str) -> m.Internship | Template:
    """The listing the link is for, or the page that says why the link does not work."""
    try:
        return hosting.manage_internship(db, state.signer, internship_id, token)
    except TokenError as exc:
        return _problem(internship_id, exc)
    except NotFound as exc:
        raise NotFoundException(exc.detail) from exc


def _manage_page(
    db: Session,
    internship: m.Internship,
    token: str,
    *,
    notice: str = "",
    error: str = "",
    extend_form: Form | None = None,
    status_code: int = 200,
) -> Template:
    return Template(
        "public/internship_manage.html",
        context={
            **views.common_context(),
            "i": internship,
            "d": services.detail_by_id(db, internship.id),
            "token": token,
            "interests": interest_status.interest_rows(db, internship.id),
            "statuses": list(m.InterestStatus),
            "status_hint": interest_status.STATUS_HINT,
            "extend_form": extend_form or Form({}),
            "editable": internship.status in hosting.EDITABLE,
            "notice": notice,
            "error": error,
        },
        status_code=status_code,
        headers=PRIVATE,
    )


def _back(internship: m.Internship, token: str, notice: str) -> Redirect:
    return Redirect(f"/internships/manage/{internship.id}?token={token}&notice={notice}", status_code=303)


@get("/internships/manage/{internship_id:int}", sync_to_thread=False)
def manage_page(
    state: State, db: DB, internship_id: FromPath[int], token: FromQuery[str] = "", notice: FromQuery[str] = ""
) -> Template:
    internship = _open(state, db, internship_id, token)
    if isinstance(internship, Template):
        return internship
    return _manage_page(db, internship, token, notice=notice_text(notice, NOTICES))


def _edit_page(db: Session, internship: m.Internship, token: str, form: Form) -> Template:
    context = {
        **_fields_context(db, form),
        "i": internship,
        "d": services.detail_by_id(db, internship.id),
        "token": token,
    }
    page = form_page("public/internship_manage_edit.html", context, form=form)
    page.headers.update(PRIVATE)
    return page


@get("/internships/manage/{internship_id:int}/edit", sync_to_thread=False)
def manage_edit_page(state: State, db: DB, internship_id: FromPath[int], token: FromQuery[str] = "") -> Template:
    internship = _open(state, db, internship_id, token)
    if isinstance(internship, Template):
        return internship
    if internship.status not in hosting.EDITABLE:
        return _manage_page(db, internship, token, error=hosting.CLOSED_MESSAGE, status_code=409)
    return _edit_page(db, internship, token, Form(services.form_values(services.current_data(db, internship))))


@post("/internships/manage/{internship_id:int}/edit", sync_to_thread=False)
def manage_edit(
    state: State, db: DB, settings: AppSettings, internship_id: FromPath[int], data: FormBody
) -> Template | Redirect:
    form = Form(data)
    token = form.str("token", max_length=2000)
    internship = _open(state, db, internship_id, token)
    if isinstance(internship, Template):
        return internship
    if internship.status not in hosting.EDITABLE:
        return _manage_page(db, internship, token, error=hosting.CLOSED_MESSAGE, status_code=409)
    now = views.now()
    if not form.str("host_contact_name", max_length=200):
        form.add_error("host_contact_name", "Enter your name.")
    checked = attempt(
        form,
        lambda: services.validate(db, data, now=now, existing=internship, host_required=False),
        checks=lambda: _field_errors(db, data, now, internship),
    )
    if checked is None:
        return _edit_page(db, internship, token, form)
    before = internship.status
    if not hosting.host_update(db, internship, checked, now=now):
        return _back(internship, token, "unchanged")
    if before != m.InternshipStatus.SUBMITTED:
        services.notify_submitted(db, state.renderer, internship, settings.base_url)
    return _back(internship, token, "saved" if before == m.InternshipStatus.PUBLISHED else "submitted")


def _field_errors(db: Session, data: Any, now: Any, internship: m.Internship) -> dict[str, str]:
    try:
        services.validate(db, data, now=now, existing=internship, host_required=False)
    except FieldErrors as exc:
        return exc.errors
    return {}


@post("/internships/manage/{internship_id:int}/extend", sync_to_thread=False)
def manage_extend(state: State, db: DB, internship_id: FromPath[int], data: FormBody) -> Template | Redirect:
    form = Form(data)
    token = form.str("token", max_length=2000)
    internship = _open(state, db, internship_id, token)
    if isinstance(internship, Template):
        return internship
    try:
        done = attempt(form, lambda: hosting.host_extend(db, internship, data, now=views.now()))
    except services.TransitionError as exc:
        return _manage_page(db, internship, token, error=str(exc), status_code=409)
    if done is None:
        return _manage_page(db, internship, token, extend_form=form, status_code=422)
    return _back(internship, token, "extended")


@post("/internships/manage/{internship_id:int}/close", sync_to_thread=False)
def manage_close(state: State, db: DB, internship_id: FromPath[int], data: FormBody) -> Template | Redirect:
    form = Form(data)
    token = form.str("token", max_length=2000)
    internship = _open(state, db, internship_id, token)
    if isinstance(internship, Template):
        return internship
    action = form.str("action")
    try:
        hosting.host_close(db, internship, action, now=views.now())
    except services.TransitionError as exc:
        return _manage_page(db, internship, token, error=str(exc), status_code=409)
    return _back(internship, token, "filled" if action == "filled" else "closed")


@post("/internships/manage/{internship_id:int}/interests/{interest_id:int}", sync_to_thread=False)
def manage_interest(
    state: State,
    db: DB,
    settings: AppSettings,
    internship_id: FromPath[int],
    interest_id: FromPath[int],
    data: FormBody,
) -> Template | Redirect:
    token = Form(data).str("token", max_length=2000)
    internship = _open(state, db, internship_id, token)
    if isinstance(internship, Template):
        return internship
    try:
        status, notify = interest_status.parse_status(data)
        change = interest_status.change_status(
            db,
            state.renderer,
            internship,
            interest_id,
            status,
            notify=notify,
            by=hosting.HOST,
            base_url=settings.base_url,
            now=views.now(),
        )
    except FieldErrors as exc:
        return _manage_page(db, internship, token, error=exc.errors["status"], status_code=422)
    except NotFound as exc:
        raise NotFoundException(exc.detail) from exc
    return _back(internship, token, "told" if change.notified else "status")


@post("/internships/manage/{internship_id:int}/new-link", sync_to_thread=False)
def manage_new_link(
    request: Request[Any, Any, Any], state: State, db: DB, settings: AppSettings, internship_id: FromPath[int]
) -> Template:
    """A fresh link for an expired one, sent only to the listing's own host address (so asking reveals nothing)."""
    limiter = state.rate_limiter
    if not (
        limiter.allow(f"internship-new-link:{internship_id}", hosting.NEW_LINK_LIMIT_PER_HOUR, 3600)
        and limiter.allow(f"internship-new-link:ip:{client_ip(request)}", 10, 3600)
    ):
        return Template(
            "public/internship_manage_problem.html",
            context={"problem": "This link has expired.", "limited": True, "internship_id": internship_id},
            status_code=429,
            headers={**PRIVATE, "Retry-After": "3600"},
        )
    internship = db.get(m.Internship, internship_id)
    if internship is not None and internship.manage_key:
        hosting.send_manage_link(
            db, state.renderer, state.signer, internship, base_url=settings.base_url, now=views.now(), reason="new"
        )
    return Template("public/internship_manage_problem.html", context={"sent": True}, headers=PRIVATE)


route_handlers: list[Any] = [
    offer_page,
    offer_submit,
    manage_page,
    manage_edit_page,
    manage_edit,
    manage_extend,
    manage_close,
    manage_interest,
    manage_new_link,
]
