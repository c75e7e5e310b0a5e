"""The directory's admin pages for organisations: the list, the editor, deletion, the review queue, topics and
regions, and the editors' own page at /admin/our-organisation. Contacts, import and merge are in ``admin_contacts``.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post
from litestar.datastructures import State
from litestar.exceptions import ClientException, NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Stream, Template
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.directory import contacts, export, organisations, sections, submissions, taxonomy
from crm.directory.errors import DirectoryError
from crm.directory.references import organisation_references
from crm.directory.views import choices, csv_response, list_params, org_or_404, topic_or_404
from crm.history import history
from crm.web.auth import Principal, admin_guard, editor_guard
from crm.web.deps import DB, CurrentUser, Ext
from crm.web.forms import Form, FormBody
from crm.web.listing import is_htmx

# ----------------------------------------------------------------------------------------------- organisations


@get("/organisations", sync_to_thread=False)
def admin_org_list(request: Request[Any, Any, Any], db: DB) -> Template:
    params = list_params(request, organisations.ADMIN_ORG_FILTERS)
    page = organisations.list_organisations(db, params, public=False)
    _, sorts = organisations.organisation_list_query(db, params, public=False)
    context = {
        "page": page,
        "params": params,
        "sorts": sorts,
        "topics": taxonomy.all_topics(db),
        "regions": taxonomy.all_regions(db),
        "statuses": [s.value for s in m.ReviewStatus],
        **choices(),
    }
    if is_htmx(request.headers):
        return Template("admin/organisations_results.html", context=context)
    return Template("admin/organisations.html", context=context)


@get("/organisations/export.csv", sync_to_thread=False)
def admin_org_export(request: Request[Any, Any, Any], state: State) -> Stream:
    params = list_params(request, organisations.ADMIN_ORG_FILTERS)
    return csv_response(state, lambda s: export.organisation_rows(s, params, public=False), "organisations.csv")


def _org_form_context(db: Session, form: Form, org: m.Organisation | None = None) -> dict[str, Any]:
    return {
        "form": form,
        "org": org,
        "topics": taxonomy.all_topics(db),
        "regions": taxonomy.all_regions(db),
        **choices(),
    }


@get("/organisations/new", sync_to_thread=False)
def admin_org_new(db: DB) -> Template:
    form = Form({"kind": "vcse", "visibility": "public"})
    return Template("admin/organisation_form.html", context=_org_form_context(db, form))


@post("/organisations/new", sync_to_thread=False)
def admin_org_create(db: DB, user: CurrentUser, data: FormBody) -> Template | Redirect:
    values, form = organisations.validate_organisation(db, data)
    if not form.ok:
        return Template("admin/organisation_form.html", context=_org_form_context(db, form), status_code=400)
    org = organisations.create_organisation(db, user, values)
    return Redirect(f"/admin/organisations/{org.id}?notice=created", status_code=303)


@get("/organisations/{org_id:int}", sync_to_thread=False)
def admin_org_detail(db: DB, ext: Ext, org_id: FromPath[int], notice: FromQuery[str] = "") -> Template:
    org = org_or_404(db, org_id)
    return Template(
        "admin/organisation.html",
        context={
            "org": org,
            "contacts": contacts.organisation_contacts(db, org.id),
            "sections": sections.admin_sections(db, org.id, ext),
            "history": history(db, "organisation", org.id),
            "notice": {"created": "Organisation created.", "saved": "Changes saved.", "merged": "Records merged."}.get(
                notice, ""
            ),
            **choices(),
        },
    )


@get("/organisations/{org_id:int}/edit", sync_to_thread=False)
def admin_org_edit(db: DB, org_id: FromPath[int]) -> Template:
    org = org_or_404(db, org_id)
    form = Form(organisations.organisation_form_data(org))
    return Template("admin/organisation_form.html", context=_org_form_context(db, form, org))


@post("/organisations/{org_id:int}/edit", sync_to_thread=False)
def admin_org_update(db: DB, user: CurrentUser, org_id: FromPath[int], data: FormBody) -> Template | Redirect:
    org = org_or_404(db, org_id)
    values, form = organisations.validate_organisation(db, data, exclude_id=org.id)
    if not form.ok:
        return Template("admin/organisation_form.html", context=_org_form_context(db, form, org), status_code=400)
    organisations.update_organisation(db, user, org, values)
    return Redirect(f"/admin/organisations/{org.id}?notice=saved", status_code=303)


@get("/organisations/{org_id:int}/delete", sync_to_thread=False)
def admin_org_delete_page(db: DB, ext: Ext, org_id: FromPath[int]) -> Template:
    org = org_or_404(db, org_id)
    return Template(
        "admin/organisation_delete.html",
        context={
            "org": org,
            "references": organisation_references(db, org.id, ext),
            "contacts": len(contacts.organisation_contacts(db, org.id)),
        },
    )


@post("/organisations/{org_id:int}/delete", sync_to_thread=False)
def admin_org_delete(db: DB, ext: Ext, user: CurrentUser, org_id: FromPath[int]) -> Template | Redirect:
    org = org_or_404(db, org_id)
    try:
        organisations.delete_organisation(db, ext, user, org)
    except DirectoryError as exc:
        return Template(
            "admin/organisation_delete.html",
            context={
                "org": org,
                "references": organisation_references(db, org.id, ext),
                "error": str(exc),
                "contacts": 0,
            },
            status_code=409,
        )
    return Redirect("/admin/organisations?deleted=1", status_code=303)


# ------------------------------------------------------------------------------------------------ review queue


@get("/review", sync_to_thread=False)
def admin_review(db: DB) -> Template:
    return Template("admin/review.html", context={"rows": submissions.review_queue(db), **choices()})


@post("/organisations/{org_id:int}/review", sync_to_thread=False)
def admin_review_decide(
    state: State, db: DB, user: CurrentUser, org_id: FromPath[int], data: FormBody
) -> Template | Redirect:
    org = org_or_404(db, org_id)
    form = Form(data)
    decision = form.choice("decision", ["approve", "reject"], required=True, label="Decision")
    note = form.str("note", max_length=1000, label="Note")
    if not form.ok:
        raise ClientException(detail="Choose approve or reject.", status_code=400)
    try:
        submissions.review_submission(
            db, state.renderer, state.settings, user, org, approve=decision == "approve", note=note
        )
    except DirectoryError as exc:
        raise ClientException(detail=str(exc), status_code=409) from exc
    return Redirect("/admin/review", status_code=303)


# -------------------------------------------------------------------------------------------- topics, regions


def _topics_page(db: Session, form: Form | None = None, status: int = 200, notice: str = "") -> Template:
    return Template(
        "admin/topics.html",
        context={"rows": taxonomy.topic_usage(db), "form": form or Form({}), "notice": notice},
        status_code=status,
    )


@get("/topics", sync_to_thread=False)
def admin_topics(db: DB) -> Template:
    return _topics_page(db)


@post("/topics", sync_to_thread=False)
def admin_topic_create(db: DB, user: CurrentUser, data: FormBody) -> Template | Redirect:
    values, form = taxonomy.validate_topic(db, data)
    if not form.ok:
        return _topics_page(db, form, 400)
    taxonomy.save_topic(db, user, values)
    return Redirect("/admin/topics", status_code=303)


@get("/topics/{topic_id:int}", sync_to_thread=False)
def admin_topic_edit(db: DB, topic_id: FromPath[int]) -> Template:
    topic = topic_or_404(db, topic_id)
    form = Form({"name": topic.name, "description": topic.description})
    return Template(
        "admin/topic_form.html", context={"topic": topic, "form": form, "history": history(db, "topic", topic.id)}
    )


@post("/topics/{topic_id:int}", sync_to_thread=False)
def admin_topic_update(db: DB, user: CurrentUser, topic_id: FromPath[int], data: FormBody) -> Template | Redirect:
    topic = topic_or_404(db, topic_id)
    values, form = taxonomy.validate_topic(db, data, exclude_id=topic.id)
    if not form.ok:
        return Template(
            "admin/topic_form.html",
            context={"topic": topic, "form": form, "history": history(db, "topic", topic.id)},
            status_code=400,
        )
    taxonomy.save_topic(db, user, values, topic)
    return Redirect("/admin/topics", status_code=303)


@get("/topics/{topic_id:int}/delete", sync_to_thread=False)
def admin_topic_delete_page(db: DB, topic_id: FromPath[int]) -> Template:
    topic = topic_or_404(db, topic_id)
    usage = next((r for r in taxonomy.topic_usage(db) if r.id == topic.id), None)
    return Template("admin/topic_delete.html", context={"topic": topic, "usage": usage})


@post("/topics/{topic_id:int}/delete", sync_to_thread=False)
def admin_topic_delete(db: DB, user: CurrentUser, topic_id: FromPath[int]) -> Redirect:
    taxonomy.delete_topic(db, user, topic_or_404(db, topic_id))
    return Redirect("/admin/topics", status_code=303)


@get("/regions", sync_to_thread=False)
def admin_regions(db: DB) -> Template:
    return Template("admin/regions.html", context={"rows": taxonomy.region_usage(db), "errors": {}})


@post("/regions/{region_id:int}", sync_to_thread=False)
def admin_region_update(db: DB, user: CurrentUser, region_id: FromPath[int], data: FormBody) -> Template | Redirect:
    region = db.get(m.Region, region_id)
    if region is None:
        raise NotFoundException("No such region.")
    form = Form(data)
    name = form.line("name", required=True, max_length=120, label="Name")
    position = form.int("position", minimum=0, label="Position")
    clash = db.scalar(select(m.Region.id).where(m.Region.name == name, m.Region.id != region.id)) if name else None
    if clash:
        form.add_error("name", "Another region has this name.")
    if not form.ok:
        return Template(
            "admin/regions.html",
            context={"rows": taxonomy.region_usage(db), "errors": {region.id: form.errors}},
            status_code=400,
        )
    taxonomy.save_region(db, user, region, name, position if position is not None else region.position)
    return Redirect("/admin/regions", status_code=303)


# ------------------------------------------------------------------------------- /admin/our-organisation (editors)
# The people who run a group know its details best: an editor edits the same fields as the public "add your group"
# form; visibility and the parent link stay the fellow's (``organisations.update_own_organisation``).

OWN_TEMPLATE = "admin/our_organisation.html"


def _own_context(db: Session, user: Principal | None, form: Form | None, notice: str = "") -> dict[str, Any]:
    org = organisations.get_organisation(db, user.organisation_id) if user and user.organisation_id else None
    return {
        "org": org,
        "form": form if form is not None else Form(organisations.organisation_form_data(org) if org else {}),
        "topics": taxonomy.all_topics(db),
        "regions": taxonomy.all_regions(db),
        "kinds": taxonomy.KIND_LABELS,
        "categories": taxonomy.CATEGORY_LABELS,
        "notice": notice,
        "listed": org is not None
        and org.review_status == m.ReviewStatus.APPROVED
        and org.visibility == m.Visibility.PUBLIC,
    }


@get("/", sync_to_thread=False)
def own_page(db: DB, user: CurrentUser, saved: FromQuery[str] = "") -> Template:
    return Template(OWN_TEMPLATE, context=_own_context(db, user, None, "Changes saved." if saved else ""))


@post("/", sync_to_thread=False)
def own_save(db: DB, user: CurrentUser, data: FormBody) -> Template | Redirect:
    org = organisations.get_organisation(db, user.organisation_id) if user and user.organisation_id else None
    if org is None or user is None:
        return Template(OWN_TEMPLATE, context=_own_context(db, user, None), status_code=403)
    form = organisations.update_own_organisation(db, user, org, data)
    if not form.ok:
        return Template(OWN_TEMPLATE, context=_own_context(db, user, form), status_code=400)
    return Redirect("/admin/our-organisation?saved=1", status_code=303)


admin_router = Router(
    path="/admin",
    guards=[admin_guard],
    include_in_schema=False,
    route_handlers=[
        admin_org_list,
        admin_org_export,
        admin_org_new,
        admin_org_create,
        admin_org_detail,
        admin_org_edit,
        admin_org_update,
        admin_org_delete_page,
        admin_org_delete,
        admin_review,
        admin_review_decide,
        admin_topics,
        admin_topic_create,
        admin_topic_edit,
        admin_topic_update,
        admin_topic_delete_page,
        admin_topic_delete,
        admin_regions,
        admin_region_update,
    ],
)

own_router = Router(
    path="/admin/our-organisation",
    guards=[editor_guard],
    include_in_schema=False,
    route_handlers=[own_page, own_save],
)

route_handlers: list[Any] = [admin_router, own_router]
