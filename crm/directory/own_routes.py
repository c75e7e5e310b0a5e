"""/admin/our-organisation: an editor keeps their own organisation's directory entry up to date.

The fellow curates the directory, but the people who run a group know its details best; they edit the same
fields as the public "add your group" form. Visibility and the parent link stay the fellow's
(``services.update_own_organisation``); every change is in the organisation's history with the editor's name.
"""

from __future__ import annotations

from typing import Any

from litestar import Router, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from crm import models as m
from crm.directory import services
from crm.web.auth import Principal, editor_guard
from crm.web.deps import DB, CurrentUser
from crm.web.forms import Form, FormBody

TEMPLATE = "admin/our_organisation.html"


def _context(db: Session, user: Principal | None, form: Form | None, notice: str = "") -> dict[str, Any]:
    org = services.get_organisation(db, user.organisation_id) if user and user.organisation_id else None
    return {
        "org": org,
        "form": form if form is not None else Form(services.organisation_form_data(org) if org else {}),
        "topics": services.all_topics(db),
        "regions": services.all_regions(db),
        "kinds": services.KIND_LABELS,
        "categories": services.CATEGORY_LABELS,
        "notice": notice,
        "listed": org is not None
        and org.review_status == m.ReviewStatus.APPROVED
        and org.visibility == m.Visibility.PUBLIC,
    }


@get("/", sync_to_thread=False)
def own_page(db: DB, user: CurrentUser, saved: FromQuery[str] = "") -> Template:
    return Template(TEMPLATE, context=_context(db, user, None, "Changes saved." if saved else ""))


@post("/", sync_to_thread=False)
def own_save(db: DB, user: CurrentUser, data: FormBody) -> Template | Redirect:
    org = services.get_organisation(db, user.organisation_id) if user and user.organisation_id else None
    if org is None or user is None:
        return Template(TEMPLATE, context=_context(db, user, None), status_code=403)
    form = services.update_own_organisation(db, user, org, data)
    if not form.ok:
        return Template(TEMPLATE, context=_context(db, user, form), status_code=400)
    return Redirect("/admin/our-organisation?saved=1", status_code=303)


router = Router(
    path="/admin/our-organisation",
    guards=[editor_guard],
    include_in_schema=False,
    route_handlers=[own_page, own_save],
)
