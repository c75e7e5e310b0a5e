"""The public directory: the organisation list and pages, and "add your group" (a submission for the fellow to review)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.utils.sync import sync_to_thread
from sqlalchemy.orm import Session

from crm import filter_choices, public_forms
from crm.directory import organisations, queries, sections, submissions
from crm.directory.views import choices, list_params, menus
from crm.httpcache import remember
from crm.web.deps import DB, Ext, client_ip
from crm.web.forms import Form, FormBody
from crm.web.pages import form_page_as, list_page, or_404


@get("/organisations", include_in_schema=False)
async def public_list(request: Request[Any, Any, Any], db: DB) -> Template:
    """A search (``q``: 40–150 ms of SQL and ranking at 100k organisations) runs in the thread pool so it does not
    hold the event loop; a plain page (a few ms, one keyset statement) stays on the loop, where a thread hop would
    cost more than it saves (architecture.md, Heavy requests)."""
    if request.query_params.get("q", "").strip():
        return await sync_to_thread(_public_list, request, db)
    return _public_list(request, db)


def _public_list(request: Request[Any, Any, Any], db: Session) -> Template:
    asked = list_params(request, organisations.ORG_FILTERS)
    unknown = queries.unknown_filters(db, asked)  # left out, and said so (crm.filter_choices)
    params = filter_choices.without_unknown(asked, unknown)
    page = queries.list_organisations(db, params, public=True, count=True)
    sorts = queries.offered_sorts(params)
    context = {
        "page": page,
        "params": params,
        "asked": asked,  # the form's: "Clear filters" shows for an unknown filter too
        "sorts": sorts,
        "unknown": filter_choices.page_messages(unknown),
    }
    return list_page(
        request,
        "public/organisations.html",
        "public/organisations_results.html",
        {**context, **choices()},
        page_only=lambda: remember(db, "directory.menus", ("topics", "regions"), menus),  # kept until they change
    )


@get("/organisations/suggest", sync_to_thread=False, include_in_schema=False)
def suggest_redirect() -> Redirect:
    """An easy-to-guess address for the "add your group" form."""
    return Redirect("/add-your-group", status_code=302)


@get("/organisations/{slug:str}", sync_to_thread=False, include_in_schema=False)
def public_detail(db: DB, ext: Ext, slug: FromPath[str]) -> Template:
    org = or_404(organisations.get_public_organisation(db, slug), "No organisation with this address is listed.")
    return Template(
        "public/organisation.html",
        context={"org": org, "sections": sections.public_sections(db, org.id, ext), **choices()},
    )


def _add_group_form(db: Session, form: Form) -> Template:
    return form_page_as(400, "public/add_group.html", menus(db), form=form)


@get("/add-your-group", sync_to_thread=False, include_in_schema=False)
def add_group_page(db: DB) -> Template:
    return _add_group_form(db, Form({}))


@post("/add-your-group", sync_to_thread=False, include_in_schema=False)
def add_group(request: Request[Any, Any, Any], state: State, db: DB, data: FormBody) -> Template:
    values, form = organisations.validate_organisation(db, data, public_form=True)
    submitter_name = form.line("submitter_name", required=True, max_length=200, label="Your name")
    submitter_email = form.email("submitter_email")
    if public_forms.trapped(data, "add your group"):  # a field people cannot see: only robots fill it in
        return Template("public/add_group_done.html", context={"name": values.get("name", "")})
    if not form.ok:
        return _add_group_form(db, form)
    if not state.rate_limiter.allow(f"add-group:{client_ip(request)}", 5, 3600):
        return Template(
            "public/add_group.html",
            context={**menus(db), "form": form, "limited": True},
            status_code=429,
            headers={"Retry-After": "3600"},
        )
    submissions.submit_group(db, values, submitter_name, submitter_email)
    return Template("public/add_group_done.html", context={"name": values["name"]})


route_handlers: list[Any] = [public_list, suggest_redirect, public_detail, add_group_page, add_group]
