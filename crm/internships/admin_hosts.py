"""The fellow's side of hosts and their registrations of interest (/admin/internships/<id>/…): a registration's
status (the fellow and the host organisation's editors, as on the listing's page), and a new manage link for the
host (the fellow only; earlier links stop working).
"""

from __future__ import annotations

from typing import Any

from litestar import post
from litestar.datastructures import State
from litestar.params import FromPath
from litestar.response import Redirect

from crm.internships import hosting, interest_status, services, views
from crm.web.deps import DB, AppSettings, CurrentUser
from crm.web.forms import FormBody


def _to_detail(internship_id: int, notice: str) -> Redirect:
    return Redirect(f"/admin/internships/{internship_id}?notice={notice}", status_code=303)


@post("/{internship_id:int}/interests/{interest_id:int}", sync_to_thread=False)
def interest_status_change(
    state: State,
    db: DB,
    settings: AppSettings,
    user: CurrentUser,
    internship_id: FromPath[int],
    interest_id: FromPath[int],
    data: FormBody,
) -> Redirect:
    actor = views.actor(user)
    internship = services.get_internship(db, internship_id)
    services.require_org(actor, internship.host_organisation_id)
    try:
        status, notify = interest_status.parse_status(data)
    except services.FieldErrors:
        return _to_detail(internship_id, "status-refused")
    change = interest_status.change_status(
        db,
        state.renderer,
        internship,
        interest_id,
        status,
        notify=notify,
        by=actor,
        base_url=settings.base_url,
        now=views.now(),
    )
    return _to_detail(internship_id, "told" if change.notified else "status")


@post("/{internship_id:int}/manage-link", sync_to_thread=False)
def send_manage_link(
    state: State, db: DB, settings: AppSettings, user: CurrentUser, internship_id: FromPath[int]
) -> Redirect:
    actor = views.actor(user)
    services.require_fellow(actor)
    internship = services.get_internship(db, internship_id)
    sent = hosting.send_manage_link(
        db,
        state.renderer,
        state.signer,
        internship,
        base_url=settings.base_url,
        now=views.now(),
        reason="new",
        actor=actor,
    )
    return _to_detail(internship_id, "link-sent" if sent else "no-host-email")


# Mounted with the listing pages in crm.internships.admin (one router for /admin/internships).
handlers: list[Any] = [interest_status_change, send_manage_link]
