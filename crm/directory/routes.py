"""Directory HTTP: the public directory and "add your group", the fellow's admin pages, the JSON API.

Handlers parse, authorise, call a service and choose a response. Contacts appear only under /admin and in the
admin-only contacts API.
"""

from __future__ import annotations

import re
import secrets
import shutil
from typing import Any

from litestar import Request, Response, Router, delete, get, patch, post
from litestar.datastructures import State, UploadFile
from litestar.exceptions import (
    ClientException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect, Stream, Template
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from crm import audit
from crm import models as m
from crm.directory import export, importer, merge, own_routes, schemas, sections, services
from crm.directory.references import organisation_references
from crm.directory.services import DirectoryError
from crm.history import history
from crm.web.auth import Principal, admin_guard
from crm.web.deps import DB, CurrentUser, client_ip
from crm.web.forms import Form, FormBody, MultipartBody
from crm.web.listing import ListParams, is_htmx

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def _params(request: Request[Any, Any, Any], filters: tuple[str, ...]) -> ListParams:
    return ListParams.from_query(request.query_params.dict(), filter_names=filters)


def _choices() -> dict[str, Any]:
    return {
        "kinds": services.KIND_LABELS,
        "categories": services.CATEGORY_LABELS,
        "career_stages": services.CAREER_LABELS,
    }


def _org_or_404(db: Any, org_id: int) -> m.Organisation:
    org = services.get_organisation(db, org_id)
    if org is None:
        raise NotFoundException("No such organisation.")
    return org


def _contact_or_404(db: Any, contact_id: int) -> m.Contact:
    contact = services.get_contact(db, contact_id)
    if contact is None:
        raise NotFoundException("No such contact.")
    return contact


def _csv_response(rows: Any, filename: str) -> Stream:
    return Stream(
        export.as_csv_chunks(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _streamed(state: State, make_rows: Any) -> Any:
    """Rows from a session of their own: the request's session is closed before a streamed body is sent."""
    session: Session = state.session_factory()
    try:
        yield from make_rows(session)
    finally:
        session.close()


# ============================================================================================ public pages


@get("/organisations", sync_to_thread=False, include_in_schema=False)
def public_list(request: Request[Any, Any, Any], db: DB) -> Template:
    params = _params(request, services.ORG_FILTERS)
    page = services.list_organisations(db, params, public=True)
    sorts = services.organisation_sorts(db, params)
    context = {
        "page": page,
        "params": params,
        "sorts": sorts,
        "topics": services.all_topics(db),
        "regions": services.all_regions(db),
        **_choices(),
    }
    if is_htmx(request.headers):
        return Template("public/organisations_results.html", context=context)
    return Template("public/organisations.html", context=context)


@get("/organisations/suggest", sync_to_thread=False, include_in_schema=False)
def suggest_redirect() -> Redirect:
    """An easy-to-guess address for the "add your group" form."""
    return Redirect("/add-your-group", status_code=302)


@get("/organisations/{slug:str}", sync_to_thread=False, include_in_schema=False)
def public_detail(db: DB, slug: FromPath[str]) -> Template:
    org = services.get_public_organisation(db, slug)
    if org is None:
        raise NotFoundException("No organisation with this address is listed.")
    return Template(
        "public/organisation.html",
        context={"org": org, "sections": sections.public_sections(db, org.id), **_choices()},
    )


def _add_group_context(db: Any, form: Form, **extra: Any) -> dict[str, Any]:
    return {"form": form, "topics": services.all_topics(db), "regions": services.all_regions(db), **_choices(), **extra}


@get("/add-your-group", sync_to_thread=False, include_in_schema=False)
def add_group_page(db: DB) -> Template:
    return Template("public/add_group.html", context=_add_group_context(db, Form({})))


@post("/add-your-group", sync_to_thread=False, include_in_schema=False)
def add_group(request: Request[Any, Any, Any], state: State, db: DB, data: FormBody) -> Template:
    values, form = services.validate_organisation(db, data, public_form=True)
    submitter_name = form.line("submitter_name", required=True, max_length=200, label="Your name")
    submitter_email = form.email("submitter_email")
    if str(data.get("nickname", "")).strip():  # a field people cannot see: only robots fill it in
        return Template("public/add_group_done.html", context={"name": values.get("name", "")})
    if not form.ok:
        return Template("public/add_group.html", context=_add_group_context(db, form), status_code=400)
    if not state.rate_limiter.allow(f"add-group:{client_ip(request)}", 5, 3600):
        return Template(
            "public/add_group.html",
            context=_add_group_context(db, form, limited=True),
            status_code=429,
            headers={"Retry-After": "3600"},
        )
    services.submit_group(db, values, submitter_name, submitter_email)
    return Template("public/add_group_done.html", context={"name": values["name"]})


# ============================================================================================= admin pages


@get("/organisations", sync_to_thread=False)
def admin_org_list(request: Request[Any, Any, Any], db: DB) -> Template:
    params = _params(request, services.ADMIN_ORG_FILTERS)
    page = services.list_organisations(db, params, public=False)
    _, sorts = services.organisation_list_query(db, params, public=False)
    context = {
        "page": page,
        "params": params,
        "sorts": sorts,
        "topics": services.all_topics(db),
        "regions": services.all_regions(db),
        "statuses": [s.value for s in m.ReviewStatus],
        **_choices(),
    }
    if is_htmx(request.headers):
        return Template("admin/organisations_results.html", context=context)
    return Template("admin/organisations.html", context=context)


@get("/organisations/export.csv", sync_to_thread=False)
def admin_org_export(request: Request[Any, Any, Any], state: State) -> Stream:
    params = _params(request, services.ADMIN_ORG_FILTERS)
    rows = _streamed(state, lambda s: export.organisation_rows(s, params, public=False))
    return _csv_response(rows, "organisations.csv")


def _org_form_context(db: Any, form: Form, org: m.Organisation | None = None) -> dict[str, Any]:
    return {
        "form": form,
        "org": org,
        "topics": services.all_topics(db),
        "regions": services.all_regions(db),
        **_choices(),
    }


@get("/organisations/new", sync_to_thread=False)
def admin_org_new(db: DB) -> Template:
    form = Form({"kind": "vcse", "visibility": "public"})
    return Template("admin/organisation_form.html", context=_org_form_context(db, form))


@post("/organisations/new", sync_to_thread=False)
def admin_org_create(db: DB, user: CurrentUser, data: FormBody) -> Template | Redirect:
    values, form = services.validate_organisation(db, data)
    if not form.ok:
        return Template("admin/organisation_form.html", context=_org_form_context(db, form), status_code=400)
    org = services.create_organisation(db, user, values)
    return Redirect(f"/admin/organisations/{org.id}?notice=created", status_code=303)


@get("/organisations/{org_id:int}", sync_to_thread=False)
def admin_org_detail(db: DB, org_id: FromPath[int], notice: FromQuery[str] = "") -> Template:
    org = _org_or_404(db, org_id)
    return Template(
        "admin/organisation.html",
        context={
            "org": org,
            "contacts": services.organisation_contacts(db, org.id),
            "sections": sections.admin_sections(db, org.id),
            "history": history(db, "organisation", org.id),
            "notice": {"created": "Organisation created.", "saved": "Changes saved.", "merged": "Records merged."}.get(
                notice, ""
            ),
            **_choices(),
        },
    )


@get("/organisations/{org_id:int}/edit", sync_to_thread=False)
def admin_org_edit(db: DB, org_id: FromPath[int]) -> Template:
    org = _org_or_404(db, org_id)
    form = Form(services.organisation_form_data(org))
    return Template("admin/organisation_form.html", context=_org_form_context(db, form, org))


@post("/organisations/{org_id:int}/edit", sync_to_thread=False)
def admin_org_update(db: DB, user: CurrentUser, org_id: FromPath[int], data: FormBody) -> Template | Redirect:
    org = _org_or_404(db, org_id)
    values, form = services.validate_organisation(db, data, exclude_id=org.id)
    if not form.ok:
        return Template("admin/organisation_form.html", context=_org_form_context(db, form, org), status_code=400)
    services.update_organisation(db, user, org, values)
    return Redirect(f"/admin/organisations/{org.id}?notice=saved", status_code=303)


@get("/organisations/{org_id:int}/delete", sync_to_thread=False)
def admin_org_delete_page(db: DB, org_id: FromPath[int]) -> Template:
    org = _org_or_404(db, org_id)
    return Template(
        "admin/organisation_delete.html",
        context={
            "org": org,
            "references": organisation_references(db, org.id),
            "contacts": len(services.organisation_contacts(db, org.id)),
        },
    )


@post("/organisations/{org_id:int}/delete", sync_to_thread=False)
def admin_org_delete(db: DB, user: CurrentUser, org_id: FromPath[int]) -> Template | Redirect:
    org = _org_or_404(db, org_id)
    try:
        services.delete_organisation(db, user, org)
    except DirectoryError as exc:
        return Template(
            "admin/organisation_delete.html",
            context={"org": org, "references": organisation_references(db, org.id), "error": str(exc), "contacts": 0},
            status_code=409,
        )
    return Redirect("/admin/organisations?deleted=1", status_code=303)


# ------------------------------------------------------------------------------------------------ review queue


@get("/review", sync_to_thread=False)
def admin_review(db: DB) -> Template:
    return Template("admin/review.html", context={"rows": services.review_queue(db), **_choices()})


@post("/organisations/{org_id:int}/review", sync_to_thread=False)
def admin_review_decide(
    state: State, db: DB, user: CurrentUser, org_id: FromPath[int], data: FormBody
) -> Template | Redirect:
    org = _org_or_404(db, org_id)
    form = Form(data)
    decision = form.choice("decision", ["approve", "reject"], required=True, label="Decision")
    note = form.str("note", max_length=1000, label="Note")
    if not form.ok:
        raise ClientException(detail="Choose approve or reject.", status_code=400)
    try:
        services.review_submission(
            db, state.renderer, state.settings, user, org, approve=decision == "approve", note=note
        )
    except DirectoryError as exc:
        raise ClientException(detail=str(exc), status_code=409) from exc
    return Redirect("/admin/review", status_code=303)


# ---------------------------------------------------------------------------------------------------- contacts


@get("/contacts", sync_to_thread=False)
def admin_contact_list(request: Request[Any, Any, Any], db: DB) -> Template:
    params = _params(request, services.CONTACT_FILTERS)
    page = services.list_contacts(db, params)
    _, sorts = services.contact_list_query(db, params)
    context = {
        "page": page,
        "params": params,
        "sorts": sorts,
        "topics": services.all_topics(db),
        "regions": services.all_regions(db),
        **_choices(),
    }
    if is_htmx(request.headers):
        return Template("admin/contacts_results.html", context=context)
    return Template("admin/contacts.html", context=context)


@get("/contacts/export.csv", sync_to_thread=False)
def admin_contact_export(request: Request[Any, Any, Any], state: State) -> Stream:
    params = _params(request, services.CONTACT_FILTERS)
    return _csv_response(_streamed(state, lambda s: export.contact_rows(s, params)), "contacts.csv")


def _contact_form_context(db: Any, form: Form, contact: m.Contact | None = None) -> dict[str, Any]:
    return {
        "form": form,
        "contact": contact,
        "topics": services.all_topics(db),
        "regions": services.all_regions(db),
        **_choices(),
    }


@get("/contacts/new", sync_to_thread=False)
def admin_contact_new(db: DB) -> Template:
    return Template("admin/contact_form.html", context=_contact_form_context(db, Form({})))


@post("/contacts/new", sync_to_thread=False)
def admin_contact_create(db: DB, user: CurrentUser, data: FormBody) -> Template | Redirect:
    values, form = services.validate_contact(db, data)
    if not form.ok:
        return Template("admin/contact_form.html", context=_contact_form_context(db, form), status_code=400)
    contact = services.create_contact(db, user, values)
    return Redirect(f"/admin/contacts/{contact.id}?notice=created", status_code=303)


def _contact_page(db: Any, contact: m.Contact, notice: str = "", link_form: Form | None = None, status: int = 200):
    return Template(
        "admin/contact.html",
        context={
            "contact": contact,
            "subscriptions": services.contact_subscriptions(db, contact.id),
            "history": history(db, "contact", contact.id),
            "link_form": link_form or Form({}),
            "notice": notice,
            **_choices(),
        },
        status_code=status,
    )


@get("/contacts/{contact_id:int}", sync_to_thread=False)
def admin_contact_detail(db: DB, contact_id: FromPath[int], notice: FromQuery[str] = "") -> Template:
    messages = {
        "created": "Contact created.",
        "saved": "Changes saved.",
        "merged": "Records merged.",
        "linked": "Saved.",
    }
    return _contact_page(db, _contact_or_404(db, contact_id), messages.get(notice, ""))


@get("/contacts/{contact_id:int}/edit", sync_to_thread=False)
def admin_contact_edit(db: DB, contact_id: FromPath[int]) -> Template:
    contact = _contact_or_404(db, contact_id)
    form = Form(services.contact_form_data(contact))
    return Template("admin/contact_form.html", context=_contact_form_context(db, form, contact))


@post("/contacts/{contact_id:int}/edit", sync_to_thread=False)
def admin_contact_update(db: DB, user: CurrentUser, contact_id: FromPath[int], data: FormBody) -> Template | Redirect:
    contact = _contact_or_404(db, contact_id)
    values, form = services.validate_contact(db, data, exclude_id=contact.id)
    if not form.ok:
        return Template("admin/contact_form.html", context=_contact_form_context(db, form, contact), status_code=400)
    services.update_contact(db, user, contact, values)
    return Redirect(f"/admin/contacts/{contact.id}?notice=saved", status_code=303)


@get("/contacts/{contact_id:int}/delete", sync_to_thread=False)
def admin_contact_delete_page(db: DB, contact_id: FromPath[int]) -> Template:
    return Template("admin/contact_delete.html", context={"contact": _contact_or_404(db, contact_id)})


@post("/contacts/{contact_id:int}/delete", sync_to_thread=False)
def admin_contact_delete(db: DB, user: CurrentUser, contact_id: FromPath[int]) -> Redirect:
    services.delete_contact(db, user, _contact_or_404(db, contact_id))
    return Redirect("/admin/contacts?deleted=1", status_code=303)


@post("/contacts/{contact_id:int}/affiliations", sync_to_thread=False)
def admin_affiliation_add(db: DB, user: CurrentUser, contact_id: FromPath[int], data: FormBody) -> Template | Redirect:
    contact = _contact_or_404(db, contact_id)
    form = Form(data)
    key = form.line("organisation", required=True, max_length=320, label="Organisation")
    role = form.line("role", max_length=200, label="Role")
    primary = form.bool("is_primary")
    org = services.find_organisation(db, key) if key else None
    if key and org is None:
        form.add_error("organisation", "No organisation with that name or web address.")
    if form.ok and org is not None:
        try:
            services.add_affiliation(db, user, contact, org, role, primary)
        except DirectoryError as exc:
            form.add_error("organisation", str(exc))
    if not form.ok:
        return _contact_page(db, contact, link_form=form, status=400)
    return Redirect(f"/admin/contacts/{contact.id}?notice=linked", status_code=303)


def _affiliation_or_404(db: Any, aff_id: int) -> m.Affiliation:
    aff = db.get(m.Affiliation, aff_id)
    if aff is None:
        raise NotFoundException("No such link.")
    return aff


@post("/affiliations/{aff_id:int}/edit", sync_to_thread=False)
def admin_affiliation_edit(db: DB, user: CurrentUser, aff_id: FromPath[int], data: FormBody) -> Redirect:
    aff = _affiliation_or_404(db, aff_id)
    form = Form(data)
    role = form.line("role", max_length=200, label="Role")
    if not form.ok:
        raise ClientException(detail=form.errors["role"], status_code=400)
    services.update_affiliation(db, user, aff, role, form.bool("is_primary"))
    return Redirect(f"/admin/contacts/{aff.contact_id}?notice=linked", status_code=303)


@post("/affiliations/{aff_id:int}/delete", sync_to_thread=False)
def admin_affiliation_delete(db: DB, user: CurrentUser, aff_id: FromPath[int]) -> Redirect:
    aff = _affiliation_or_404(db, aff_id)
    contact_id = aff.contact_id
    services.remove_affiliation(db, user, aff)
    return Redirect(f"/admin/contacts/{contact_id}?notice=linked", status_code=303)


# -------------------------------------------------------------------------------------------- topics, regions


def _topics_page(db: Any, form: Form | None = None, status: int = 200, notice: str = "") -> Template:
    return Template(
        "admin/topics.html",
        context={"rows": services.topic_usage(db), "form": form or Form({}), "notice": notice},
        status_code=status,
    )


@get("/topics", sync_to_thread=False)
def admin_topics(db: DB) -> Template:
    return _topics_page(db)


@post("/topics", sync_to_thread=False)
def admin_topic_create(db: DB, user: CurrentUser, data: FormBody) -> Template | Redirect:
    values, form = services.validate_topic(db, data)
    if not form.ok:
        return _topics_page(db, form, 400)
    services.save_topic(db, user, values)
    return Redirect("/admin/topics", status_code=303)


def _topic_or_404(db: Any, topic_id: int) -> m.Topic:
    topic = db.get(m.Topic, topic_id)
    if topic is None:
        raise NotFoundException("No such topic.")
    return topic


@get("/topics/{topic_id:int}", sync_to_thread=False)
def admin_topic_edit(db: DB, topic_id: FromPath[int]) -> Template:
    topic = _topic_or_404(db, topic_id)
    form = Form({"name": topic.name, "description": topic.description})
    return Template(
        "admin/topic_form.html", context={"topic": topic, "form": form, "history": history(db, "topic", topic.id)}
    )


@post("/topics/{topic_id:int}", sync_to_thread=False)
def admin_topic_update(db: DB, user: CurrentUser, topic_id: FromPath[int], data: FormBody) -> Template | Redirect:
    topic = _topic_or_404(db, topic_id)
    values, form = services.validate_topic(db, data, exclude_id=topic.id)
    if not form.ok:
        return Template(
            "admin/topic_form.html",
            context={"topic": topic, "form": form, "history": history(db, "topic", topic.id)},
            status_code=400,
        )
    services.save_topic(db, user, values, topic)
    return Redirect("/admin/topics", status_code=303)


@get("/topics/{topic_id:int}/delete", sync_to_thread=False)
def admin_topic_delete_page(db: DB, topic_id: FromPath[int]) -> Template:
    topic = _topic_or_404(db, topic_id)
    usage = next((r for r in services.topic_usage(db) if r.id == topic.id), None)
    return Template("admin/topic_delete.html", context={"topic": topic, "usage": usage})


@post("/topics/{topic_id:int}/delete", sync_to_thread=False)
def admin_topic_delete(db: DB, user: CurrentUser, topic_id: FromPath[int]) -> Redirect:
    services.delete_topic(db, user, _topic_or_404(db, topic_id))
    return Redirect("/admin/topics", status_code=303)


@get("/regions", sync_to_thread=False)
def admin_regions(db: DB) -> Template:
    return Template("admin/regions.html", context={"rows": services.region_usage(db), "errors": {}})


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
            context={"rows": services.region_usage(db), "errors": {region.id: form.errors}},
            status_code=400,
        )
    services.save_region(db, user, region, name, position if position is not None else region.position)
    return Redirect("/admin/regions", status_code=303)


# ---------------------------------------------------------------------------------------------------- import

TOKEN = re.compile(r"^[a-f0-9]{32}$")


def _import_path(token: str) -> Any:
    if not TOKEN.match(token):
        raise NotFoundException("No such import.")
    path = importer.import_dir() / f"{token}.csv"
    if not path.exists():
        raise NotFoundException("This import has expired or was already used. Upload the file again.")
    return path


@get("/import", sync_to_thread=False)
def admin_import_page() -> Template:
    return Template("admin/import.html", context={"form": Form({})})


@post("/import")
async def admin_import_upload(db: DB, data: MultipartBody) -> Template:
    form = Form({})
    upload = data.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        form.add_error("file", "Choose a CSV file to upload.")
        return Template("admin/import.html", context={"form": form}, status_code=400)
    token = secrets.token_hex(16)
    path = importer.import_dir() / f"{token}.csv"
    size = 0
    with open(path, "wb") as out:
        while chunk := await upload.read(1 << 20):
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                break
            out.write(chunk)
    if size > MAX_UPLOAD_BYTES:
        path.unlink(missing_ok=True)
        form.add_error("file", "The file is larger than 20 MB. Use `crm import organisations FILE.csv` instead.")
        return Template("admin/import.html", context={"form": form}, status_code=413)
    report = importer.run_import(db, path, apply=False)
    if not report.ok:
        path.unlink(missing_ok=True)
    return Template(
        "admin/import_preview.html", context={"report": report, "token": token, "filename": upload.filename}
    )


@get("/import/{token:str}", sync_to_thread=False)
def admin_import_preview(db: DB, token: FromPath[str]) -> Template:
    report = importer.run_import(db, _import_path(token), apply=False)
    return Template("admin/import_preview.html", context={"report": report, "token": token, "filename": ""})


@post("/import/{token:str}", sync_to_thread=False)
def admin_import_confirm(db: DB, user: CurrentUser, token: FromPath[str], data: FormBody) -> Template:
    path = _import_path(token)
    skip = Form(data).bool("skip_bad_rows")
    preview = importer.run_import(db, path, apply=False)
    if not preview.ok or (preview.error_rows and not skip):
        return Template(
            "admin/import_preview.html",
            context={
                "report": preview,
                "token": token,
                "filename": "",
                "refused": "Nothing was imported: fix the rows with errors and upload again, or tick "
                "'Skip the rows with errors'.",
            },
            status_code=400,
        )
    report = importer.run_import(db, path, apply=True, actor=user)
    audit.record(db, user, "imported", "import", None, summary=report.summary())
    shutil.move(str(path), str(path.with_suffix(".done")))
    path.with_suffix(".done").unlink(missing_ok=True)
    return Template("admin/import_done.html", context={"report": report})


# ------------------------------------------------------------------------------------------ duplicates, merge


@get("/duplicates", sync_to_thread=False)
def admin_duplicates(db: DB) -> Template:
    return Template(
        "admin/duplicates.html",
        context={"orgs": merge.duplicate_organisations(db), "contacts": merge.duplicate_contacts(db)},
    )


def _merge_pair(db: Any, kind: str, a: int | None, b: int | None) -> tuple[Any, Any]:
    getter = services.get_organisation if kind == "organisations" else services.get_contact
    first = getter(db, a) if a else None
    second = getter(db, b) if b else None
    if first is None or second is None:
        raise NotFoundException("One of these records no longer exists.")
    return first, second


@get("/duplicates/{kind:str}/merge", sync_to_thread=False)
def admin_merge_page(
    db: DB, kind: FromPath[str], a: FromQuery[int | None] = None, b: FromQuery[int | None] = None
) -> Template:
    if kind not in {"organisations", "contacts"}:
        raise NotFoundException("No such record type.")
    if a is not None and a == b:
        return Template(
            "admin/duplicates_merge.html",
            context={"kind": kind, "error": "A record cannot be merged into itself.", "a": None, "b": None},
            status_code=400,
        )
    first, second = _merge_pair(db, kind, a, b)
    return Template("admin/duplicates_merge.html", context={"kind": kind, "a": first, "b": second, "error": ""})


@post("/duplicates/{kind:str}/merge", sync_to_thread=False)
def admin_merge(db: DB, user: CurrentUser, kind: FromPath[str], data: FormBody) -> Template | Redirect:
    if kind not in {"organisations", "contacts"}:
        raise NotFoundException("No such record type.")
    form = Form(data)
    keep = form.int("keep", required=True, label="Record to keep")
    drop = form.int("drop", label="Record to merge")
    if drop is None:  # the compare page sends the pair and which one to keep
        pair = [int(x) for x in form.str("pair", max_length=50).split(",") if x.strip().isdigit()]
        others = [x for x in pair if x != keep]
        drop = others[0] if len(pair) == 2 and others else keep
    try:
        if not form.ok or keep is None or drop is None:
            raise DirectoryError("Choose which record to keep.")
        if kind == "organisations":
            merge.merge_organisations(db, user, keep, drop)
        else:
            merge.merge_contacts(db, user, keep, drop)
    except DirectoryError as exc:
        return Template(
            "admin/duplicates_merge.html",
            context={"kind": kind, "error": str(exc), "a": None, "b": None},
            status_code=400,
        )
    return Redirect(f"/admin/{kind}/{keep}?notice=merged", status_code=303)


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
        admin_contact_list,
        admin_contact_export,
        admin_contact_new,
        admin_contact_create,
        admin_contact_detail,
        admin_contact_edit,
        admin_contact_update,
        admin_contact_delete_page,
        admin_contact_delete,
        admin_affiliation_add,
        admin_affiliation_edit,
        admin_affiliation_delete,
        admin_topics,
        admin_topic_create,
        admin_topic_edit,
        admin_topic_update,
        admin_topic_delete_page,
        admin_topic_delete,
        admin_regions,
        admin_region_update,
        admin_import_page,
        admin_import_upload,
        admin_import_preview,
        admin_import_confirm,
        admin_duplicates,
        admin_merge_page,
        admin_merge,
    ],
)


# ===================================================================================================== API


def _require(user: Principal | None, role: m.Role) -> Principal:
    if user is None:
        raise NotAuthorizedException("Sign in or send an API key.")
    if not user.has_role(role):
        raise PermissionDeniedException("Your account does not have permission to do this.")
    return user


def _invalid(form: Form) -> ValidationException:
    return ValidationException(
        detail="Some fields are not valid.",
        extra=[{"key": k, "message": v} for k, v in form.errors.items()],
        status_code=422,
    )


def _org_out(org: m.Organisation) -> schemas.Organisation:
    return schemas.Organisation(
        id=org.id,
        slug=org.slug,
        name=org.name,
        kind=org.kind.value,
        vcse_category=org.vcse_category.value if org.vcse_category else None,
        user_led=org.user_led,
        lived_experience_led=org.lived_experience_led,
        description=org.description,
        website=org.website,
        public_email=org.public_email,
        region=org.region.slug if org.region else None,
        topics=[t.slug for t in org.topics],
        postcode=org.postcode,
        charity_number=org.charity_number,
        visibility=org.visibility.value,
        review_status=org.review_status.value,
        created_at=org.created_at,
        updated_at=org.updated_at,
    )


def _visible_org(db: Any, user: Principal | None, org_id: int) -> m.Organisation:
    org = services.get_organisation(db, org_id)
    if org is None:
        raise NotFoundException("No such organisation.")
    public = org.review_status == m.ReviewStatus.APPROVED and org.visibility == m.Visibility.PUBLIC
    if not public and not (user and (user.is_admin or (user.organisation_id == org.id))):
        raise NotFoundException("No such organisation.")
    return org


@get("/organisations", sync_to_thread=False)
def api_org_list(request: Request[Any, Any, Any], db: DB, user: CurrentUser) -> schemas.OrganisationPage:
    """Organisations (approved and public ones unless an admin asks). Filters: q, kind, category, topic, region,
    user_led, lived_experience_led (admins also status, visibility); sort; cursor; page_size (max 100)."""
    admin = bool(user and user.is_admin)
    params = _params(request, services.ADMIN_ORG_FILTERS if admin else services.ORG_FILTERS)
    page = services.list_organisations(db, params, public=not admin)
    ids = [r.id for r in page.items]
    orgs = {
        o.id: o
        for o in db.scalars(
            select(m.Organisation)
            .where(m.Organisation.id.in_(ids))
            .options(selectinload(m.Organisation.topics), selectinload(m.Organisation.region))
        )
    }
    return schemas.OrganisationPage(
        items=[_org_out(orgs[i]) for i in ids if i in orgs],
        next_cursor=page.next_cursor,
        prev_cursor=page.prev_cursor,
    )


@get("/organisations/{org_id:int}", sync_to_thread=False)
def api_org_get(db: DB, user: CurrentUser, org_id: FromPath[int]) -> schemas.Organisation:
    return _org_out(_visible_org(db, user, org_id))


@post("/organisations", sync_to_thread=False)
def api_org_create(db: DB, user: CurrentUser, data: JSONBody[schemas.OrganisationIn]) -> Response[schemas.Organisation]:
    """Admins only (editors may update their own organisation)."""
    actor = _require(user, m.Role.ADMIN)
    values, form = services.validate_organisation(db, schemas.given(data))
    if not form.ok:
        raise _invalid(form)
    org = services.create_organisation(db, actor, values)
    return Response(_org_out(services.get_organisation(db, org.id)), status_code=201)  # type: ignore[arg-type]


@patch("/organisations/{org_id:int}", sync_to_thread=False)
def api_org_update(
    db: DB, user: CurrentUser, org_id: FromPath[int], data: JSONBody[schemas.OrganisationIn]
) -> schemas.Organisation:
    """Admins, or an editor for their own organisation. Only the fields sent change."""
    actor = _require(user, m.Role.EDITOR)
    org = services.get_organisation(db, org_id)
    if org is None:
        raise NotFoundException("No such organisation.")
    if not actor.is_admin and actor.organisation_id != org.id:
        raise PermissionDeniedException("Editors may change only their own organisation.")
    sent = schemas.given(data)
    if not actor.is_admin:
        sent.pop("visibility", None)
    merged = {**services.organisation_form_data(org), **sent}
    values, form = services.validate_organisation(db, merged, exclude_id=org.id)
    if not form.ok:
        raise _invalid(form)
    services.update_organisation(db, actor, org, values)
    db.expire_all()
    return _org_out(services.get_organisation(db, org.id))  # type: ignore[arg-type]


@delete("/organisations/{org_id:int}", sync_to_thread=False, status_code=204)
def api_org_delete(db: DB, user: CurrentUser, org_id: FromPath[int]) -> None:
    actor = _require(user, m.Role.ADMIN)
    org = services.get_organisation(db, org_id)
    if org is None:
        raise NotFoundException("No such organisation.")
    try:
        services.delete_organisation(db, actor, org)
    except DirectoryError as exc:
        raise ClientException(detail=str(exc), status_code=409) from exc


def _contact_out(c: m.Contact) -> schemas.Contact:
    return schemas.Contact(
        id=c.id,
        name=c.name,
        email=c.email,
        phone=c.phone,
        job_title=c.job_title,
        career_stage=c.career_stage.value if c.career_stage else None,
        notes=c.notes,
        topics=[t.slug for t in c.topics],
        regions=[r.slug for r in c.regions],
        affiliations=[
            schemas.Affiliation(
                organisation_id=a.organisation_id,
                organisation=a.organisation.name,
                role=a.role,
                is_primary=a.is_primary,
            )
            for a in c.affiliations
        ],
        created_at=c.created_at,
        updated_at=c.updated_at,
    )


@get("/contacts", sync_to_thread=False)
def api_contact_list(request: Request[Any, Any, Any], db: DB, user: CurrentUser) -> schemas.ContactPage:
    """Admins only (session or API key). Filters: q, organisation (slug), topic, region, career_stage."""
    _require(user, m.Role.ADMIN)
    page = services.list_contacts(db, _params(request, services.CONTACT_FILTERS))
    return schemas.ContactPage(
        items=[
            schemas.ContactSummary(
                id=r.id, name=r.name, email=r.email, job_title=r.job_title, organisation=r.organisation_name
            )
            for r in page.items
        ],
        next_cursor=page.next_cursor,
        prev_cursor=page.prev_cursor,
    )


@get("/contacts/{contact_id:int}", sync_to_thread=False)
def api_contact_get(db: DB, user: CurrentUser, contact_id: FromPath[int]) -> schemas.Contact:
    _require(user, m.Role.ADMIN)
    return _contact_out(_contact_or_404(db, contact_id))


@post("/contacts", sync_to_thread=False)
def api_contact_create(db: DB, user: CurrentUser, data: JSONBody[schemas.ContactIn]) -> Response[schemas.Contact]:
    actor = _require(user, m.Role.ADMIN)
    values, form = services.validate_contact(db, schemas.given(data))
    if not form.ok:
        raise _invalid(form)
    contact = services.create_contact(db, actor, values)
    return Response(_contact_out(_contact_or_404(db, contact.id)), status_code=201)


@patch("/contacts/{contact_id:int}", sync_to_thread=False)
def api_contact_update(
    db: DB, user: CurrentUser, contact_id: FromPath[int], data: JSONBody[schemas.ContactIn]
) -> schemas.Contact:
    actor = _require(user, m.Role.ADMIN)
    contact = _contact_or_404(db, contact_id)
    merged = {**services.contact_form_data(contact), **schemas.given(data)}
    values, form = services.validate_contact(db, merged, exclude_id=contact.id)
    if not form.ok:
        raise _invalid(form)
    services.update_contact(db, actor, contact, values)
    db.expire_all()
    return _contact_out(_contact_or_404(db, contact_id))


@delete("/contacts/{contact_id:int}", sync_to_thread=False, status_code=204)
def api_contact_delete(db: DB, user: CurrentUser, contact_id: FromPath[int]) -> None:
    actor = _require(user, m.Role.ADMIN)
    services.delete_contact(db, actor, _contact_or_404(db, contact_id))


def _topic_out(t: Any) -> schemas.Topic:
    return schemas.Topic(id=t.id, slug=t.slug, name=t.name, description=t.description)


@get("/topics", sync_to_thread=False)
def api_topic_list(db: DB) -> list[schemas.Topic]:
    """The topic vocabulary (public)."""
    return [_topic_out(t) for t in db.scalars(select(m.Topic).order_by(m.Topic.name))]


@get("/topics/{topic_id:int}", sync_to_thread=False)
def api_topic_get(db: DB, topic_id: FromPath[int]) -> schemas.Topic:
    return _topic_out(_topic_or_404(db, topic_id))


@post("/topics", sync_to_thread=False)
def api_topic_create(db: DB, user: CurrentUser, data: JSONBody[schemas.TopicIn]) -> Response[schemas.Topic]:
    actor = _require(user, m.Role.ADMIN)
    values, form = services.validate_topic(db, schemas.given(data))
    if not form.ok:
        raise _invalid(form)
    return Response(_topic_out(services.save_topic(db, actor, values)), status_code=201)


@patch("/topics/{topic_id:int}", sync_to_thread=False)
def api_topic_update(
    db: DB, user: CurrentUser, topic_id: FromPath[int], data: JSONBody[schemas.TopicIn]
) -> schemas.Topic:
    actor = _require(user, m.Role.ADMIN)
    topic = _topic_or_404(db, topic_id)
    merged = {"name": topic.name, "description": topic.description, **schemas.given(data)}
    values, form = services.validate_topic(db, merged, exclude_id=topic.id)
    if not form.ok:
        raise _invalid(form)
    return _topic_out(services.save_topic(db, actor, values, topic))


@delete("/topics/{topic_id:int}", sync_to_thread=False, status_code=204)
def api_topic_delete(db: DB, user: CurrentUser, topic_id: FromPath[int]) -> None:
    actor = _require(user, m.Role.ADMIN)
    services.delete_topic(db, actor, _topic_or_404(db, topic_id))


api_router = Router(
    path="/api/v1",
    tags=["directory"],
    route_handlers=[
        api_org_list,
        api_org_get,
        api_org_create,
        api_org_update,
        api_org_delete,
        api_contact_list,
        api_contact_get,
        api_contact_create,
        api_contact_update,
        api_contact_delete,
        api_topic_list,
        api_topic_get,
        api_topic_create,
        api_topic_update,
        api_topic_delete,
    ],
)

route_handlers: list[Any] = [
    public_list,
    suggest_redirect,
    public_detail,
    add_group_page,
    add_group,
    admin_router,
    own_routes.router,
    api_router,
]
