"""The directory's admin pages for people and bulk work: contacts and their affiliations, the CSV import, and
likely duplicates with merging. Organisations, review, topics and regions are in ``admin``.
"""

from __future__ import annotations

import re
import secrets
import shutil
from pathlib import Path
from typing import Any

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Stream, Template
from litestar.utils.sync import sync_to_thread
from sqlalchemy.orm import Session

from crm import models as m
from crm.bulk import actions as bulk
from crm.bulk import kinds as bulk_kinds
from crm.directory import contacts, export, import_preview, importer, merge
from crm.directory.views import choices, contact_or_404, list_params, menus
from crm.history import history
from crm.imports import batches
from crm.views_saved import saved
from crm.web import offload
from crm.web.areas import admin_area
from crm.web.deps import DB, AppSettings, CurrentUser
from crm.web.downloads import CSV, download_stream
from crm.web.forms import Form, FormBody, MultipartBody
from crm.web.pages import attempt, form_page_as, get_or_404, list_page
from crm.web.pages import notice as notice_text

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
CONTACT_NOTICES = {
    "created": "Contact created.",
    "saved": "Changes saved.",
    "merged": "Records merged.",
    "linked": "Saved.",
}

# ---------------------------------------------------------------------------------------------------- contacts


@get("/contacts", sync_to_thread=False)
def admin_contact_list(request: Request[Any, Any, Any], db: DB, user: CurrentUser) -> Template:
    params = list_params(request, contacts.CONTACT_FILTERS)
    page = contacts.list_contacts(db, params, count=True)
    _, sorts = contacts.contact_list_query(db, params)
    return list_page(
        request,
        "admin/contacts.html",
        "admin/contacts_results.html",
        {"page": page, "params": params, "sorts": sorts, **choices()},
        page_only=lambda: {
            **menus(db),
            "bulk_actions": bulk_kinds.CONTACTS.actions,
            "contact_lists": bulk.contact_list_choices(db),
            "my_views": saved.views_for(db, user, "contacts"),
        },
    )


@get("/contacts/export.csv", exception_handlers=offload.EXCEPTION_HANDLERS)
async def admin_contact_export(request: Request[Any, Any, Any], settings: AppSettings) -> Stream:
    """Made in a worker process page by page (crm.web.offload): writing 100k rows of CSV would otherwise take the
    GIL from the event loop for seconds (architecture.md, Heavy requests)."""
    params = list_params(request, contacts.CONTACT_FILTERS)
    pages = await offload.paged_stream(settings, export.contact_csv_page, params, None)
    return download_stream(pages, CSV, "contacts.csv")


def _contact_form(db: Session, form: Form, contact: m.Contact | None = None) -> Template:
    return form_page_as(400, "admin/contact_form.html", {"contact": contact, **menus(db)}, form=form)


@get("/contacts/new", sync_to_thread=False)
def admin_contact_new(db: DB) -> Template:
    return _contact_form(db, Form({}))


@post("/contacts/new", sync_to_thread=False)
def admin_contact_create(db: DB, user: CurrentUser, data: FormBody) -> Template | Redirect:
    values, form = contacts.validate_contact(db, data)
    contact = attempt(form, lambda: contacts.create_contact(db, user, values))
    if contact is None:
        return _contact_form(db, form)
    return Redirect(f"/admin/contacts/{contact.id}?notice=created", status_code=303)


def _contact_page(
    db: Session,
    contact: m.Contact,
    notice: str = "",
    link_form: Form | None = None,
    status: int = 200,
    role_form: Form | None = None,
) -> Template:
    return Template(
        "admin/contact.html",
        context={
            "contact": contact,
            "subscriptions": contacts.contact_subscriptions(db, contact.id),
            "history": history(db, "contact", contact.id),
            "link_form": link_form or Form({}),
            "role_form": role_form or Form({}),
            "notice": notice,
            **choices(),
        },
        status_code=status,
    )


@get("/contacts/{contact_id:int}", sync_to_thread=False)
def admin_contact_detail(db: DB, contact_id: FromPath[int], notice: FromQuery[str] = "") -> Template:
    return _contact_page(db, contact_or_404(db, contact_id), notice_text(notice, CONTACT_NOTICES))


@get("/contacts/{contact_id:int}/edit", sync_to_thread=False)
def admin_contact_edit(db: DB, contact_id: FromPath[int]) -> Template:
    contact = contact_or_404(db, contact_id)
    return _contact_form(db, Form(contacts.contact_form_data(contact)), contact)


@post("/contacts/{contact_id:int}/edit", sync_to_thread=False)
def admin_contact_update(db: DB, user: CurrentUser, contact_id: FromPath[int], data: FormBody) -> Template | Redirect:
    contact = contact_or_404(db, contact_id)
    values, form = contacts.validate_contact(db, data, exclude_id=contact.id)
    attempt(form, lambda: contacts.update_contact(db, user, contact, values))
    if not form.ok:
        return _contact_form(db, form, contact)
    return Redirect(f"/admin/contacts/{contact.id}?notice=saved", status_code=303)


@get("/contacts/{contact_id:int}/delete", sync_to_thread=False)
def admin_contact_delete_page(db: DB, contact_id: FromPath[int]) -> Template:
    return Template("admin/contact_delete.html", context={"contact": contact_or_404(db, contact_id)})


@post("/contacts/{contact_id:int}/delete", sync_to_thread=False)
def admin_contact_delete(db: DB, user: CurrentUser, contact_id: FromPath[int]) -> Redirect:
    contacts.delete_contact(db, user, contact_or_404(db, contact_id))
    return Redirect("/admin/contacts?deleted=1", status_code=303)


# ------------------------------------------------------------------------------------------------ affiliations


@post("/contacts/{contact_id:int}/affiliations", sync_to_thread=False)
def admin_affiliation_add(db: DB, user: CurrentUser, contact_id: FromPath[int], data: FormBody) -> Template | Redirect:
    contact = contact_or_404(db, contact_id)
    values, form = contacts.validate_affiliation(db, data)
    attempt(form, lambda: contacts.add_affiliation(db, user, contact, values["org"], values["role"], values["primary"]))
    if not form.ok:
        return _contact_page(db, contact, link_form=form, status=400)
    return Redirect(f"/admin/contacts/{contact.id}?notice=linked", status_code=303)


@post("/affiliations/{aff_id:int}/edit", sync_to_thread=False)
def admin_affiliation_edit(db: DB, user: CurrentUser, aff_id: FromPath[int], data: FormBody) -> Template | Redirect:
    aff = get_or_404(db, m.Affiliation, aff_id, "No such link.")
    form = Form(data)
    role = form.line("role", max_length=200, label="Role")
    if not form.ok:
        # The contact's page again with the message on that row's role field and what was typed kept; it was a
        # bare 400 error page that lost the text. Keyed ``role-<id>``: the page has one role field per link.
        key = f"role-{aff.id}"
        role_form = Form({key: form.data.get("role", "")})
        role_form.add_error(key, form.errors["role"])
        return _contact_page(db, contact_or_404(db, aff.contact_id), role_form=role_form, status=400)
    contacts.update_affiliation(db, user, aff, role, form.bool("is_primary"))
    return Redirect(f"/admin/contacts/{aff.contact_id}?notice=linked", status_code=303)


@post("/affiliations/{aff_id:int}/delete", sync_to_thread=False)
def admin_affiliation_delete(db: DB, user: CurrentUser, aff_id: FromPath[int]) -> Redirect:
    aff = get_or_404(db, m.Affiliation, aff_id, "No such link.")
    contact_id = aff.contact_id
    contacts.remove_affiliation(db, user, aff)
    return Redirect(f"/admin/contacts/{contact_id}?notice=linked", status_code=303)


# ---------------------------------------------------------------------------------------------------- import

TOKEN = re.compile(r"^[a-f0-9]{32}$")


def _import_path(token: str) -> Path:
    if not TOKEN.match(token):
        raise NotFoundException("No such import.")
    path = importer.import_dir() / f"{token}.csv"
    if not path.exists():
        raise NotFoundException("This import has expired or was already used. Upload the file again.")
    return path


@get("/import", sync_to_thread=False)
def admin_import_page(db: DB) -> Template:
    return Template(
        "admin/import.html", context={"form": Form({}), "batches": batches.recent(db, 10), "kinds": batches.KINDS}
    )


async def _check(settings: AppSettings, path: Path, replace: list[str]) -> import_preview.Preview:
    """The check pass (nothing written) and its tables, made in a worker process (architecture.md, Heavy requests)."""
    return await offload.run_in_session(settings, import_preview.check, path, replace)


def _preview_page(
    preview: import_preview.Preview,
    token: str,
    replace: list[str],
    filename: str,
    status_code: int = 200,
    refused: str = "",
) -> Template:
    """The preview of the uploaded file with the columns chosen to replace."""
    return Template(
        "admin/import_preview.html",
        context={
            "report": preview.report,
            "rows_html": preview.rows_html,
            "token": token,
            "filename": filename,
            "replace": replace,
            "replaceable": importer.REPLACEABLE,
            "refused": refused,
        },
        status_code=status_code,
    )


@post("/import", exception_handlers=offload.EXCEPTION_HANDLERS)
async def admin_import_upload(settings: AppSettings, data: MultipartBody) -> Template:
    form = Form({})
    upload = data.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        form.add_error("file", "Choose a CSV file to upload.")
        return form_page_as(400, "admin/import.html", {}, form=form)
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
    path.with_suffix(".name").write_text(upload.filename[:300], encoding="utf-8")  # for the batch's page
    preview = await _check(settings, path, [])
    if not preview.report.ok:
        _discard(path)
    return _preview_page(preview, token, [], upload.filename[:300])


def _discard(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.with_suffix(".name").unlink(missing_ok=True)


def _filename(path: Path) -> str:
    name = path.with_suffix(".name")
    return name.read_text(encoding="utf-8")[:300] if name.exists() else ""


# Heavy at scale: the check pass runs in a worker process (architecture.md, Heavy requests).
@get("/import/{token:str}", exception_handlers=offload.EXCEPTION_HANDLERS)
async def admin_import_preview(
    settings: AppSettings, token: FromPath[str], replace: FromQuery[list[str] | None] = None
) -> Template:
    path = _import_path(token)
    return _preview_page(await _check(settings, path, replace or []), token, replace or [], _filename(path))


def _apply(db: Session, user: CurrentUser, path: Path, replace: list[str], filename: str) -> importer.ImportReport:
    """The write pass, in the request's session (its transaction commits or rolls back with the request)."""
    report = importer.run_import(db, path, apply=True, actor=user, replace=replace, filename=filename)
    shutil.move(str(path), str(path.with_suffix(".done")))
    path.with_suffix(".done").unlink(missing_ok=True)
    path.with_suffix(".name").unlink(missing_ok=True)
    return report


# Heavy at scale: the check pass in a worker process, the write pass in Litestar's thread pool in the request's
# session (architecture.md, Heavy requests).
@post("/import/{token:str}", exception_handlers=offload.EXCEPTION_HANDLERS)
async def admin_import_confirm(
    db: DB, user: CurrentUser, settings: AppSettings, token: FromPath[str], data: FormBody
) -> Template:
    path = _import_path(token)
    form = Form(data)
    skip = form.bool("skip_bad_rows")
    replace = form.getlist("replace")
    filename = _filename(path)
    checked = await _check(settings, path, replace)
    if form.line("action") == "preview":  # "show the preview with these choices": nothing written
        return _preview_page(checked, token, replace, filename)
    if not checked.report.ok or (checked.report.error_rows and not skip):
        refused = (
            "Nothing was imported: fix the rows with errors and upload again, or tick 'Skip the rows with errors'."
        )
        return _preview_page(checked, token, replace, filename, 400, refused)
    report = await sync_to_thread(_apply, db, user, path, replace, filename)
    return Template("admin/import_done.html", context={"report": report})


# ------------------------------------------------------------------------------------------ duplicates, merge


@get("/duplicates", sync_to_thread=False)
def admin_duplicates(db: DB) -> Template:
    return Template(
        "admin/duplicates.html",
        context={"orgs": merge.duplicate_organisations(db), "contacts": merge.duplicate_contacts(db)},
    )


@get("/duplicates/{kind:str}/merge", sync_to_thread=False)
def admin_merge_page(kind: FromPath[str], a: FromQuery[int | None] = None, b: FromQuery[int | None] = None) -> Redirect:
    """The older address of the comparison: merging is chosen field by field at /admin/merge/<kind> (admin_merge)."""
    if kind not in {"organisations", "contacts"}:
        raise NotFoundException("No such record type.")
    query = "&".join(f"{k}={v}" for k, v in (("a", a), ("b", b)) if v is not None)
    return Redirect(f"/admin/merge/{kind}?{query}", status_code=303)


route_handlers: list[Any] = admin_area(
    "/admin",
    [
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
        admin_import_page,
        admin_import_upload,
        admin_import_preview,
        admin_import_confirm,
        admin_duplicates,
        admin_merge_page,
    ],
)
