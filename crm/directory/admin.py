"""The directory's admin pages for organisations: the list, the editor, deletion, the review queue, topics and
regions, and the editors' own page at /admin/our-organisation. Contacts, import and merge are in ``admin_contacts``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Stream, Template
from sqlalchemy.orm import Session

from crm import models as m
from crm.bulk import kinds as bulk_kinds
from crm.directory import contacts, export, organisations, queries, sections, submissions, taxonomy
from crm.directory.errors import DirectoryError
from crm.directory.references import organisation_references
from crm.directory.views import choices, list_params, menus, org_or_404
from crm.history import history
from crm.involvement import admin as involvement_admin
from crm.involvement.rules import payment_summary
from crm.views_saved import saved
from crm.web import offload
from crm.web.areas import admin_area
from crm.web.auth import Principal, editor_guard
from crm.web.deps import DB, AppSettings, CurrentUser, Ext
from crm.web.downloads import CSV, download_stream
from crm.web.forms import Form, FormBody
from crm.web.pages import attempt, form_page_as, get_or_404, list_page
from crm.web.pages import notice as notice_text

ORG_NOTICES = {"created": "Organisation created.", "saved": "Changes saved.", "merged": "Records merged."}
OWN_NOTICES = {"saved": "Changes saved."}

# ----------------------------------------------------------------------------------------------- organisations


@get("/organisations", sync_to_thread=False)
def admin_org_list(request: Request[Any, Any, Any], db: DB, user: CurrentUser) -> Template:
    params = list_params(request, organisations.ADMIN_ORG_FILTERS)
    page = queries.list_organisations(db, params, public=False, count=True)
    sorts = page.sorts
    return list_page(
        request,
        "admin/organisations.html",
        "admin/organisations_results.html",
        {"page": page, "params": params, "sorts": sorts, **choices()},
        page_only=lambda: {
            **menus(db),
            "statuses": [s.value for s in m.ReviewStatus],
            "bulk_actions": bulk_kinds.ORGANISATIONS.actions,
            "my_views": saved.views_for(db, user, "organisations"),
        },
    )


@get("/organisations/export.csv", exception_handlers=offload.EXCEPTION_HANDLERS)
async def admin_org_export(request: Request[Any, Any, Any], settings: AppSettings) -> Stream:
    """Made in a worker process page by page, as the contacts export is (architecture.md, Heavy requests)."""
    params = list_params(request, organisations.ADMIN_ORG_FILTERS)
    pages = await offload.paged_stream(settings, export.organisation_csv_page, params, False, None)
    return download_stream(pages, CSV, "organisations.csv")


def _org_form(db: Session, form: Form, org: m.Organisation | None = None) -> Template:
    return form_page_as(400, "admin/organisation_form.html", {"org": org, **menus(db)}, form=form)


@get("/organisations/new", sync_to_thread=False)
def admin_org_new(db: DB) -> Template:
    return _org_form(db, Form({"kind": "vcse", "visibility": "public"}))


@post("/organisations/new", sync_to_thread=False)
def admin_org_create(db: DB, user: CurrentUser, data: FormBody) -> Template | Redirect:
    values, form = organisations.validate_organisation(db, data)
    org = attempt(form, lambda: organisations.create_organisation(db, user, values))
    if org is None:
        return _org_form(db, form)
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
            "notice": notice_text(notice, ORG_NOTICES),
            **choices(),
        },
    )


@get("/organisations/{org_id:int}/edit", sync_to_thread=False)
def admin_org_edit(db: DB, org_id: FromPath[int]) -> Template:
    org = org_or_404(db, org_id)
    return _org_form(db, Form(organisations.organisation_form_data(org)), org)


@post("/organisations/{org_id:int}/edit", sync_to_thread=False)
def admin_org_update(db: DB, user: CurrentUser, org_id: FromPath[int], data: FormBody) -> Template | Redirect:
    org = org_or_404(db, org_id)
    values, form = organisations.validate_organisation(db, data, exclude_id=org.id)
    attempt(form, lambda: organisations.update_organisation(db, user, org, values))
    if not form.ok:
        return _org_form(db, form, org)
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
def admin_review(db: DB, user: CurrentUser, notice: FromQuery[str] = "") -> Template:
    """Everything waiting for the fellow: groups from /add-your-group, involvement opportunities from
    /involvement/offer (approved or turned down through the involvement pages' own handlers, which come back here)."""
    return _review_page(db, user, notice_text(notice, involvement_admin.NOTICES))


def _review_page(
    db: Session, user: Principal | None, notice: str = "", note_form: Form | None = None, status: int = 200
) -> Template:
    context = {
        "rows": submissions.review_queue(db),
        "opportunities": submissions.opportunities_waiting(db, user),
        "payment": payment_summary,
        "now": dt.datetime.now(dt.UTC),
        "notice": notice,
        "note_form": note_form or Form({}),
        **choices(),
    }
    return Template("admin/review.html", context=context, status_code=status)


@post("/organisations/{org_id:int}/review", sync_to_thread=False)
def admin_review_decide(
    state: State, db: DB, user: CurrentUser, org_id: FromPath[int], data: FormBody
) -> Template | Redirect:
    org = org_or_404(db, org_id)
    form = Form(data)
    decision = form.choice("decision", ["approve", "reject"], required=True, label="Decision")
    note = form.str("note", max_length=1000, label="Note")
    if not form.ok:
        # The queue again with the message on this group's row and the note kept: a note over 1,000 characters, or
        # a decision other than the two buttons' (a tampered or replayed post), was a bare 400 page saying "Choose
        # approve or reject." that lost what the fellow wrote.
        note_form = Form({f"note-{org.id}": form.data.get("note", "")})
        if "note" in form.errors:
            note_form.add_error(f"note-{org.id}", form.errors["note"])
        if "decision" in form.errors:
            note_form.add_error(f"decision-{org.id}", "Choose Approve and publish or Reject.")
        return _review_page(db, user, note_form=note_form, status=422)
    try:
        submissions.review_submission(
            db, state.renderer, state.settings, user, org, approve=decision == "approve", note=note
        )
    except DirectoryError as exc:
        # Decided already (another tab, or the fellow's second click): the queue as it is now, saying so, rather
        # than a bare error page with no way back but the browser's.
        return _review_page(db, user, notice=f"{org.name}: {exc}", status=409)
    return Redirect("/admin/review", status_code=303)


# -------------------------------------------------------------------------------------------- topics, regions


def _topics_page(db: Session, form: Form) -> Template:
    return form_page_as(400, "admin/topics.html", {"rows": taxonomy.topic_usage(db), "notice": ""}, form=form)


def _topic_form(db: Session, topic: m.Topic, form: Form) -> Template:
    return form_page_as(
        400, "admin/topic_form.html", {"topic": topic, "history": history(db, "topic", topic.id)}, form=form
    )


@get("/topics", sync_to_thread=False)
def admin_topics(db: DB) -> Template:
    return _topics_page(db, Form({}))


@post("/topics", sync_to_thread=False)
def admin_topic_create(db: DB, user: CurrentUser, data: FormBody) -> Template | Redirect:
    values, form = taxonomy.validate_topic(db, data)
    attempt(form, lambda: taxonomy.save_topic(db, user, values))
    if not form.ok:
        return _topics_page(db, form)
    return Redirect("/admin/topics", status_code=303)


@get("/topics/{topic_id:int}", sync_to_thread=False)
def admin_topic_edit(db: DB, topic_id: FromPath[int]) -> Template:
    topic = get_or_404(db, m.Topic, topic_id, "No such topic.")
    return _topic_form(db, topic, Form({"name": topic.name, "description": topic.description}))


@post("/topics/{topic_id:int}", sync_to_thread=False)
def admin_topic_update(db: DB, user: CurrentUser, topic_id: FromPath[int], data: FormBody) -> Template | Redirect:
    topic = get_or_404(db, m.Topic, topic_id, "No such topic.")
    values, form = taxonomy.validate_topic(db, data, exclude_id=topic.id)
    attempt(form, lambda: taxonomy.save_topic(db, user, values, topic))
    if not form.ok:
        return _topic_form(db, topic, form)
    return Redirect("/admin/topics", status_code=303)


@get("/topics/{topic_id:int}/delete", sync_to_thread=False)
def admin_topic_delete_page(db: DB, topic_id: FromPath[int]) -> Template:
    topic = get_or_404(db, m.Topic, topic_id, "No such topic.")
    usage = next((r for r in taxonomy.topic_usage(db) if r.id == topic.id), None)
    return Template("admin/topic_delete.html", context={"topic": topic, "usage": usage})


@post("/topics/{topic_id:int}/delete", sync_to_thread=False)
def admin_topic_delete(db: DB, user: CurrentUser, topic_id: FromPath[int]) -> Redirect:
    taxonomy.delete_topic(db, user, get_or_404(db, m.Topic, topic_id, "No such topic."))
    return Redirect("/admin/topics", status_code=303)


@get("/regions", sync_to_thread=False)
def admin_regions(db: DB) -> Template:
    return Template("admin/regions.html", context={"rows": taxonomy.region_usage(db), "errors": {}})


@post("/regions/{region_id:int}", sync_to_thread=False)
def admin_region_update(db: DB, user: CurrentUser, region_id: FromPath[int], data: FormBody) -> Template | Redirect:
    region = get_or_404(db, m.Region, region_id, "No such region.")
    values, form = taxonomy.validate_region(db, region, data)
    attempt(form, lambda: taxonomy.save_region(db, user, region, values["name"], values["position"]))
    if not form.ok:
        return Template(
            "admin/regions.html",
            context={"rows": taxonomy.region_usage(db), "errors": {region.id: form.errors}},
            status_code=400,
        )
    return Redirect("/admin/regions", status_code=303)


# ------------------------------------------------------------------------------- /admin/our-organisation (editors)
# The people who run a group know its details best: an editor edits the same fields as the public "add your group"
# form; visibility and the parent link stay the fellow's (``organisations.update_own_organisation``).

OWN_TEMPLATE = "admin/our_organisation.html"


def _own_organisation(db: Session, user: Principal | None) -> m.Organisation | None:
    return organisations.get_organisation(db, user.organisation_id) if user and user.organisation_id else None


def _own_context(db: Session, org: m.Organisation | None, notice: str = "") -> dict[str, Any]:
    listed = org is not None and organisations.is_public(org)
    return {"org": org, **menus(db), "notice": notice, "listed": listed}


@get("/", sync_to_thread=False)
def own_page(db: DB, user: CurrentUser, notice: FromQuery[str] = "", saved: FromQuery[str] = "") -> Template:
    """``?notice=saved`` after a save (``?saved=1``, the older spelling, still works)."""
    org = _own_organisation(db, user)
    form = Form(organisations.organisation_form_data(org) if org else {})
    return form_page_as(
        400, OWN_TEMPLATE, _own_context(db, org, notice_text("saved" if saved else notice, OWN_NOTICES)), form=form
    )


@post("/", sync_to_thread=False)
def own_save(db: DB, user: CurrentUser, data: FormBody) -> Template | Redirect:
    org = _own_organisation(db, user)
    if org is None or user is None:
        return Template(OWN_TEMPLATE, context={**_own_context(db, None), "form": Form({})}, status_code=403)
    form = organisations.update_own_organisation(db, user, org, data)
    if not form.ok:
        return form_page_as(400, OWN_TEMPLATE, _own_context(db, org), form=form)
    return Redirect("/admin/our-organisation?notice=saved", status_code=303)


route_handlers: list[Any] = [
    *admin_area(
        "/admin",
        [
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
    ),
    *admin_area("/admin/our-organisation", [own_page, own_save], guard=editor_guard),
]
