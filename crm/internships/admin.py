"""The internship admin pages (/admin/internships) for the fellow and host editors; the services scope an
editor to their own organisation.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from crm import models as m
from crm.bulk import actions as bulk
from crm.bulk import kinds as bulk_kinds
from crm.history import history
from crm.internships import admin_hosts, hosting, services, views
from crm.listing import ListParams
from crm.views_saved import saved
from crm.web.areas import admin_area
from crm.web.auth import Principal, editor_guard
from crm.web.deps import DB, CurrentUser
from crm.web.forms import Form, FormBody
from crm.web.pages import attempt, form_page, list_page
from crm.web.pages import notice as notice_text

NOTICES = {
    "saved": "Saved.",
    "status": "Status changed.",
    "told": "Status changed, and the applicant has been emailed.",
    "status-refused": "Choose new, contacted, shortlisted, declined or offered.",
    "link-sent": "A new manage link is on its way to the host. Earlier links no longer work.",
    "no-host-email": "This listing has no host email address, so no link was sent.",
}


def _selected(raw: Any) -> set[str]:
    if raw is None:
        return set()
    values = raw if isinstance(raw, list) else [raw]
    return {str(v) for v in values}


def _form_page(db: Session, actor: Principal, form: Form, *, internship: m.Internship | None) -> Template:
    topics, regions = services.filter_options(db)
    context = {
        **views.common_context(),
        "i": internship,
        "topics": topics,
        "regions": regions,
        "organisations": services.organisation_choices(db, actor),
        "selected_topics": _selected(form.data.get("topic_ids")),
        "selected_stages": _selected(form.data.get("career_stages")),
        "is_fellow": services.is_fellow(actor),
    }
    return form_page("admin/internship_form.html", context, form=form)


def _detail_page(
    db: Session, actor: Principal, internship_id: int, *, notice: str = "", error: str = "", status_code: int = 200
) -> Template:
    detail = services.admin_detail(db, actor, internship_id)
    return Template(
        "admin/internship_detail.html",
        context={
            **views.common_context(),
            "d": detail,
            "i": detail.internship,
            "interests": services.interests_for(db, actor, detail.internship),
            "statuses": list(m.InterestStatus),
            "host_waiting": hosting.host_waiting_review(db, detail.internship),
            "history": history(db, "internship", internship_id),
            "is_fellow": services.is_fellow(actor),
            "notice": notice,
            "error": error,
        },
        status_code=status_code,
    )


def _to_detail(internship: m.Internship, notice: str) -> Redirect:
    return Redirect(f"/admin/internships/{internship.id}?notice={notice}", status_code=303)


@get("/", sync_to_thread=False)
def admin_list(request: Request[Any, Any, Any], db: DB, user: CurrentUser) -> Template:
    actor = views.actor(user)
    params = ListParams.from_query(request.query_params.dict(), filter_names=("status",))
    page = services.admin_list(db, actor, params, count=True)
    context = {
        **views.common_context(),
        "page": page,
        "params": params,
        "sorts": page.sorts,
        "statuses": list(m.InternshipStatus),
        "is_fellow": services.is_fellow(actor),
        "bulk_actions": bulk.offered(bulk_kinds.INTERNSHIPS, user),
    }
    return list_page(
        request,
        "admin/internship_list.html",
        "admin/internship_results.html",
        context,
        page_only=lambda: {"my_views": saved.views_for(db, user, "internships"), "bulk_topics": bulk.topic_choices(db)},
    )


@get("/new", sync_to_thread=False)
def admin_new(db: DB, user: CurrentUser, organisation: FromQuery[int | None] = None) -> Template:
    actor = views.actor(user)
    if not services.is_fellow(actor) and actor.organisation_id is None:
        raise PermissionDeniedException(
            "Your account is not linked to an organisation, so you cannot post internships."
        )
    org_id = organisation if organisation is not None else actor.organisation_id
    if org_id is not None and not services.is_fellow(actor):
        services.require_org(actor, org_id)
    return _form_page(db, actor, Form({"host_organisation_id": str(org_id or "")}), internship=None)


@post("/new", sync_to_thread=False)
def admin_create(state: State, db: DB, user: CurrentUser, data: FormBody) -> Template | Redirect:
    actor = views.actor(user)
    org = str(data.get("host_organisation_id", "")).strip()
    if org.isdigit():
        services.require_org(actor, int(org))  # 403 before anything else for another organisation
    elif not services.is_fellow(actor) and actor.organisation_id is None:
        raise PermissionDeniedException("Your account is not linked to an organisation.")
    form = Form(data)
    publish = data.get("intent") == "publish"
    internship = attempt(
        form,
        lambda: services.create_internship(
            db, actor, services.validate(db, data, now=views.now()), now=views.now(), publish=publish
        ),
    )
    if internship is None:
        return _form_page(db, actor, form, internship=None)
    views.notify(state, db, internship, None)
    return _to_detail(internship, "saved")


@get("/{internship_id:int}", sync_to_thread=False)
def admin_detail(db: DB, user: CurrentUser, internship_id: FromPath[int], notice: FromQuery[str] = "") -> Template:
    return _detail_page(db, views.actor(user), internship_id, notice=notice_text(notice, NOTICES))


@get("/{internship_id:int}/edit", sync_to_thread=False)
def admin_edit(db: DB, user: CurrentUser, internship_id: FromPath[int]) -> Template:
    actor = views.actor(user)
    internship = services.get_internship(db, internship_id)
    services.require_org(actor, internship.host_organisation_id)
    values = services.form_values(services.current_data(db, internship))
    return _form_page(db, actor, Form(values), internship=internship)


@post("/{internship_id:int}/edit", sync_to_thread=False)
def admin_update(
    state: State, db: DB, user: CurrentUser, internship_id: FromPath[int], data: FormBody
) -> Template | Redirect:
    actor = views.actor(user)
    internship = services.get_internship(db, internship_id)
    services.require_org(actor, internship.host_organisation_id)
    org = str(data.get("host_organisation_id", "")).strip()
    if org.isdigit():
        services.require_org(actor, int(org))
    form = Form(data)
    before = internship.status
    changed = attempt(
        form,
        lambda: services.update_internship(
            db, actor, internship, services.validate(db, data, now=views.now(), existing=internship), now=views.now()
        ),
    )
    if changed is None:
        return _form_page(db, actor, form, internship=internship)
    views.notify(state, db, internship, before)
    return _to_detail(internship, "saved")


@post("/{internship_id:int}/{action:str}", sync_to_thread=False)
def admin_action(
    state: State, db: DB, user: CurrentUser, internship_id: FromPath[int], action: FromPath[str], data: FormBody
) -> Template | Redirect:
    actor = views.actor(user)
    internship = services.get_internship(db, internship_id)
    services.require_org(actor, internship.host_organisation_id)
    if action == "delete":
        services.delete_internship(db, actor, internship)
        return Redirect("/admin/internships?deleted=1", status_code=303)
    if action not in services.TRANSITIONS:
        raise NotFoundException("No such action.")
    note = Form(data).str("note", max_length=1000)
    before = internship.status
    try:
        services.transition(db, actor, internship, action, now=views.now(), note=note)
    except services.TransitionError as exc:
        return _detail_page(db, actor, internship_id, error=str(exc), status_code=409)
    views.notify(state, db, internship, before, action)
    return _to_detail(internship, "status")


route_handlers: list[Any] = admin_area(
    "/admin/internships",
    [
        admin_list,
        admin_new,
        admin_create,
        admin_detail,
        admin_edit,
        admin_update,
        admin_action,
        *admin_hosts.handlers,
    ],
    guard=editor_guard,
)
