"""The fellow's funding pages under /admin/funding-calls: list, record and edit calls, publish and close them,
suggested VCSE partners, and the CSV import (upload → preview → confirm)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.utils.sync import sync_to_thread
from sqlalchemy.orm import Session

from crm import csvimport
from crm import models as m
from crm.accounts.principal import Principal
from crm.bulk import actions as bulk
from crm.bulk import kinds as bulk_kinds
from crm.funding import fit, import_values, importer, queries
from crm.funding import forms as ff
from crm.funding import services as fs
from crm.funding.matching import suggest_partners
from crm.funding.views import call_or_404
from crm.funding.views import now as _now
from crm.history import history
from crm.listing import ListParams
from crm.partnerships import changes, rules
from crm.settings import Settings
from crm.views_saved import saved
from crm.web import offload
from crm.web.areas import admin_area
from crm.web.deps import DB, AppSettings, CurrentUser
from crm.web.forms import Form, FormBody, MultipartBody
from crm.web.pages import attempt, form_page, list_page


def _form_page(db: Session, form: Form, call: m.FundingCall | None) -> Template:
    """The call form: 200 when first shown, 422 with every message when it comes back refused."""
    context = {
        "call": call,
        **queries.form_menus(db),
        "rows": ff.deadline_rows(form.data),
        "selected_topics": ff.selected(form.data, "topic_ids"),
        "selected_regions": ff.selected(form.data, "region_ids"),
    }
    return form_page("admin/funding_form.html", context, form=form)


def _to_call(call: m.FundingCall) -> Redirect:
    return Redirect(f"/admin/funding-calls/{call.id}", status_code=303)


@get("/", sync_to_thread=False)
def admin_list(request: Request[Any, Any, Any], db: DB, user: CurrentUser) -> Template:
    params = ListParams.from_query(request.query_params.dict(), filter_names=queries.ADMIN_FILTERS)
    now = _now()
    page = queries.list_calls(db, params, now=now, public=False, count=True)
    context = {
        "page": page,
        "params": params,
        "sorts": page.sorts,
        "now": now,
        "statuses": list(m.CallStatus),
        "bulk_actions": bulk.offered(bulk_kinds.FUNDING_CALLS, user),
    }
    return list_page(
        request,
        "admin/funding_list.html",
        "admin/funding_results.html",
        context,
        page_only=lambda: {
            **queries.filter_choices(db),
            "my_views": saved.views_for(db, user, "funding-calls"),
            "bulk_topics": bulk.topic_choices(db),
        },
    )


@get("/new", sync_to_thread=False)
def admin_new(db: DB) -> Template:
    return _form_page(db, Form({}), None)


@post("/new", sync_to_thread=False)
def admin_create(db: DB, user: CurrentUser, data: FormBody) -> Template | Redirect:
    form = Form(data)
    values = ff.parse_call_form(form)
    status = m.CallStatus.PUBLISHED if form.str("intent") == "publish" else m.CallStatus.DRAFT
    now = _now()
    call = attempt(
        form,
        lambda: fs.create_call(db, user, values, now=now, status=status),
        checks=lambda: fs.validate_call(db, values, is_new=True, now=now),
    )
    return _form_page(db, form, None) if call is None else _to_call(call)


@get("/{call_id:int}", sync_to_thread=False)
def admin_detail(db: DB, call_id: FromPath[int]) -> Template:
    call = call_or_404(db, call_id)
    return _detail_page(db, call, queries.partnerships_for_call(db, call.id))


@get("/{call_id:int}/edit", sync_to_thread=False)
def admin_edit(db: DB, call_id: FromPath[int]) -> Template:
    call = call_or_404(db, call_id)
    return _form_page(db, Form(ff.form_values(call)), call)


@post("/{call_id:int}/edit", sync_to_thread=False)
def admin_update(db: DB, user: CurrentUser, call_id: FromPath[int], data: FormBody) -> Template | Redirect:
    call = call_or_404(db, call_id)
    form = Form(data)
    values = ff.parse_call_form(form)
    now = _now()
    updated = attempt(
        form,
        lambda: fs.update_call(db, user, call, values, now=now),
        checks=lambda: fs.validate_call(db, values, is_new=False, now=now, call_id=call.id),
    )
    if updated is None:
        return _form_page(db, form, call)
    return _to_call(call)


@post("/{call_id:int}/status", sync_to_thread=False)
def admin_status(db: DB, user: CurrentUser, call_id: FromPath[int], data: FormBody) -> Template | Redirect:
    call = call_or_404(db, call_id)
    form = Form(data)
    target = form.choice("status", {s.value for s in m.CallStatus}, required=True, label="Status")
    if not form.ok:  # a missing or unknown status said nothing and changed nothing: the page now says why
        return _detail_page(db, call, [], 422, problem=form.errors["status"], blockers=[])
    try:
        fs.set_status(db, user, call, m.CallStatus(target), now=_now())
    except fs.CallError as exc:
        return _detail_with_error(db, call, exc.errors["status"])
    return _to_call(call)


def _detail_page(
    db: Session, call: m.FundingCall, partnerships: list[Any], status_code: int = 200, **extra: Any
) -> Template:
    context = {
        "call": call,
        "now": _now(),
        "partnerships": partnerships,
        "history": history(db, fs.ENTITY, call.id),
        "fit_facts": fit.facts(call),
        "suits": fit.call_suits(call),
        "suits_label": fit.SUITS_LABEL,
    }
    return Template("admin/funding_detail.html", context={**context, **extra}, status_code=status_code)


def _detail_with_error(db: Session, call: m.FundingCall, message: str, blockers: list[str] | None = None) -> Template:
    """The call's page answering 409: why the change was refused (and what still refers to the call)."""
    return _detail_page(db, call, [], 409, problem=message, blockers=blockers or [])


@post("/{call_id:int}/delete", sync_to_thread=False)
def admin_delete(db: DB, user: CurrentUser, call_id: FromPath[int]) -> Template | Redirect:
    call = call_or_404(db, call_id)
    blockers = fs.delete_call(db, user, call)
    if blockers:
        return _detail_with_error(db, call, "This call cannot be deleted while these records refer to it:", blockers)
    return Redirect("/admin/funding-calls", status_code=303)


@get("/{call_id:int}/matches", sync_to_thread=False)
def admin_matches(db: DB, call_id: FromPath[int]) -> Template:
    call = call_or_404(db, call_id)
    return Template(
        "admin/matching.html",
        context={
            "call": call,
            "suggestions": suggest_partners(db, call),
            "vcse_flags": call.requires_vcse_partner,
            "suits": fit.call_suits(call),
            "suits_reason": fit.SUITS_REASON,
        },
    )


@post("/{call_id:int}/matches/{organisation_id:int}/start", sync_to_thread=False)
def admin_start_partnership(
    db: DB, user: CurrentUser, call_id: FromPath[int], organisation_id: FromPath[int]
) -> Redirect:
    """One click from a suggestion: a partnership at stage "idea" linked to the call, the organisation on the VCSE
    side and the call's topics. The academic side is added on the partnership's page."""
    call = call_or_404(db, call_id)
    org = db.get(m.Organisation, organisation_id)
    if org is None or org.kind != m.OrgKind.VCSE:
        raise NotFoundException("No such VCSE organisation.")
    p = changes.create_partnership(
        db,
        user,
        rules.PartnershipInput(
            title=f"{call.title} with {org.name}"[:300],
            funding_call_id=call.id,
            members=[rules.MemberInput(m.Side.VCSE, organisation_id=org.id, role="VCSE partner")],
            topic_ids=[t.id for t in call.topics],
            next_step="Find the academic lead and make first contact",
            next_step_due=rules.today_london(_now()) + dt.timedelta(days=14),
        ),
        now=_now(),
        require_both_sides=False,
    )
    return Redirect(f"/admin/partnerships/{p.id}?notice=started", status_code=303)


# Import: upload → preview (nothing written) → confirm (the same text posted back, checked again, then written).


def _import_page(form: Form, report: importer.ImportReport | None, status_code: int = 200, **extra: Any) -> Template:
    context = {
        "form": form,
        "report": report,
        "replace": [],
        "filename": "",
        "encoding": "",
        **extra,
        "columns": importer.COLUMNS,
        "replaceable": import_values.REPLACEABLE,
    }
    return Template("admin/funding_import.html", context=context, status_code=status_code)


@get("/import", sync_to_thread=False)
def import_page() -> Template:
    return _import_page(Form({}), None)


@get("/import/template.csv", sync_to_thread=False)
def import_template() -> Response[str]:
    return Response(
        importer.template_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="funding-calls-template.csv"'},
    )


def _encoding(name: str) -> csvimport.Encoding:
    """How the upload was read, carried through the confirm form (the text itself is posted back decoded)."""
    return csvimport.Encoding.from_name(name)


def check_import(
    session: Session,
    text: str,
    user: Principal | None,
    now: dt.datetime,
    encoding: csvimport.Encoding,
    replace: list[str],
) -> importer.ImportReport:
    """The check pass (nothing written: every row checked against the calls and funders there are), run in a worker
    process (architecture.md, Heavy requests); the report goes back pickled."""
    return importer.run_import(session, text, apply=False, actor=user, now=now, replace=replace, encoding=encoding)


async def _check(
    settings: Settings,
    user: Principal | None,
    text: str,
    now: dt.datetime,
    encoding: csvimport.Encoding,
    replace: list[str] | None = None,
) -> importer.ImportReport:
    return await offload.run_in_session(settings, check_import, text, user, now, encoding, replace or [])


# Heavy at scale: the check pass in a worker process (architecture.md, Heavy requests).
@post("/import", exception_handlers=offload.EXCEPTION_HANDLERS)
async def import_preview(user: CurrentUser, settings: AppSettings, data: MultipartBody) -> Template:
    form = Form({})
    upload = data.get("file")
    text, filename, encoding = "", "", csvimport.Encoding()
    if isinstance(upload, UploadFile):
        decoded = importer.decode(await upload.read(importer.MAX_BYTES + 1))
        filename = str(upload.filename or "")[:300]
        if decoded.error:
            form.add_error("file", decoded.error)
            return _import_page(form, None, 422)
        text, encoding = decoded.text, decoded.encoding
    elif isinstance(data.get("csv_text"), str):
        text = data["csv_text"]
    if not text.strip():
        # A chosen file with nothing in it (0 bytes, or only blank lines) says so, as the directory's import and
        # `crm funding import` do; "Choose a CSV file" read as if the upload had not arrived.
        message = "The file is empty." if filename else "Choose a CSV file to import."
        form.add_error("file", message)
        return _import_page(form, None, 422)
    report = await _check(settings, user, text, _now(), encoding)
    return _import_page(form, report, csv_text=text, filename=filename, encoding=encoding.name)


def _write(
    db: Session,
    user: Principal | None,
    text: str,
    now: dt.datetime,
    replace: list[str],
    filename: str,
    encoding: csvimport.Encoding,
) -> importer.ImportReport:
    """The write pass, in the request's session (its batch commits or rolls back with the request)."""
    return importer.run_import(
        db, text, apply=True, actor=user, now=now, replace=replace, filename=filename, encoding=encoding
    )


# Heavy at scale: the check pass in a worker process, the write pass in Litestar's thread pool in the request's
# session (a worker's session only reads; architecture.md, Heavy requests).
@post("/import/confirm", exception_handlers=offload.EXCEPTION_HANDLERS)
async def import_confirm(db: DB, user: CurrentUser, settings: AppSettings, data: FormBody) -> Template:
    form = Form(data)
    text = str(data.get("csv_text", ""))
    skip_bad = form.bool("skip_bad_rows")
    replace = form.getlist("replace")
    filename = form.line("filename", max_length=300)
    encoding = _encoding(form.line("encoding", max_length=40))
    now = _now()
    kept = {"csv_text": text, "replace": replace, "filename": filename, "encoding": encoding.name}
    preview = await _check(settings, user, text, now, encoding, replace)
    if form.line("action") == "preview":  # "show the preview with these choices": nothing written
        return _import_page(form, preview, **kept)
    if preview.file_errors or (preview.errors and not skip_bad):
        return _import_page(form, preview, 422, **kept)
    report = await sync_to_thread(_write, db, user, text, now, replace, filename, encoding)
    return _import_page(form, report)


route_handlers: list[Any] = admin_area(
    "/admin/funding-calls",
    [
        admin_list,
        admin_new,
        admin_create,
        admin_detail,
        admin_edit,
        admin_update,
        admin_status,
        admin_delete,
        admin_matches,
        admin_start_partnership,
        import_page,
        import_template,
        import_preview,
        import_confirm,
    ],
)
