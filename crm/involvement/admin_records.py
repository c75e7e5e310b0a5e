"""The record of involvement for the fellow (/admin/involvement/records, admins only): the list with its filters,
totals and CSV, adding, editing and deleting a record after a confirmation. The rules are in
``crm.involvement.records``; these handlers parse, call one service and choose a response.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from crm import models as m
from crm.involvement import records
from crm.listing import ListParams
from crm.web import offload
from crm.web.areas import admin_area
from crm.web.deps import DB, AppSettings, CurrentUser
from crm.web.downloads import CSV, download
from crm.web.forms import Form, FormBody
from crm.web.pages import attempt, form_page, get_or_404, list_page
from crm.web.pages import notice as notice_text

BASE = "/admin/involvement/records"
NOTICES = {"saved": "Record saved.", "deleted": "Record deleted."}
# ``/new?organisation=12`` starts a record for that organisation (the organisation and partnership pages link so).
PREFILL = {
    "organisation": "organisation_id",
    "partnership": "partnership_id",
    "opportunity": "opportunity_id",
    "member": "member_id",
    "consultation": "consultation_request_id",
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _params(request: Request[Any, Any, Any]) -> ListParams:
    return ListParams.from_query(request.query_params.dict(), filter_names=records.FILTERS)


def _common() -> dict[str, Any]:
    return {
        "recognitions": records.RECOGNITION_OPTIONS,
        "hours_label": records.hours_label,
        "money_label": records.money_label,
        "base": BASE,
    }


@get("/", sync_to_thread=False)
def records_list(request: Request[Any, Any, Any], db: DB, notice: FromQuery[str] = "") -> Template:
    params = _params(request)
    page, problems = records.admin_list(db, params)
    context = {
        **_common(),
        "page": page,
        "params": params,
        "sorts": page.sorts,
        "problems": problems,
        "totals": records.totals(db, params),
        "csv_query": params.query_string(sort=None, cursor=None),
        "notice": notice_text(notice, NOTICES),
    }
    return list_page(
        request,
        "admin/involvement/records.html",
        "admin/involvement/records_results.html",
        context,
        page_only=lambda: {"choices": records.choices(db, filtering=True)},
    )


@get("/export.csv", exception_handlers=offload.EXCEPTION_HANDLERS)
async def records_csv(request: Request[Any, Any, Any], settings: AppSettings) -> Response[Any]:
    """Up to ``records.CSV_LIMIT`` rows, written in a worker process (architecture.md, Heavy requests)."""
    body = await offload.run_in_session(settings, records.csv_text, _params(request))
    return download(body, CSV, f"involvement-records-{_now():%Y-%m-%d}.csv")


def _form(db: Session, form: Form, rec: m.InvolvementRecord | None) -> Template:
    return form_page(
        "admin/involvement/records_form.html", {**_common(), "r": rec, "choices": records.choices(db)}, form=form
    )


@get("/new", sync_to_thread=False)
def record_new(request: Request[Any, Any, Any], db: DB) -> Template:
    query = request.query_params
    values = {field: query.get(key, "") for key, field in PREFILL.items() if query.get(key, "").isdigit()}
    values.setdefault("recognition", m.Recognition.ACKNOWLEDGED.value)
    values["took_part_on"] = records.today(_now()).isoformat()
    return _form(db, Form(values), None)


@post("/new", sync_to_thread=False)
def record_create(db: DB, user: CurrentUser, data: FormBody) -> Template | Redirect:
    form = Form(data)
    rec = attempt(form, lambda: records.create(db, user, records.checked(db, data, today=records.today(_now()))))
    if rec is None:
        return _form(db, form, None)
    return Redirect(f"{BASE}?notice=saved", status_code=303)


@get("/{record_id:int}/edit", sync_to_thread=False)
def record_edit(db: DB, record_id: FromPath[int]) -> Template:
    rec = get_or_404(db, m.InvolvementRecord, record_id, "There is no such record of involvement.")
    return _form(db, Form(records.form_data(rec)), rec)


@post("/{record_id:int}/edit", sync_to_thread=False)
def record_update(db: DB, user: CurrentUser, record_id: FromPath[int], data: FormBody) -> Template | Redirect:
    rec = get_or_404(db, m.InvolvementRecord, record_id, "There is no such record of involvement.")
    form = Form(data)

    def save() -> bool:
        records.update(db, user, rec, records.checked(db, data, today=records.today(_now())))
        return True

    if attempt(form, save) is None:
        return _form(db, form, rec)
    return Redirect(f"{BASE}?notice=saved", status_code=303)


@get("/{record_id:int}/delete", sync_to_thread=False)
def record_delete_confirm(db: DB, record_id: FromPath[int]) -> Template:
    rec = get_or_404(db, m.InvolvementRecord, record_id, "There is no such record of involvement.")
    return Template("admin/involvement/records_delete.html", context={**_common(), "r": rec})


@post("/{record_id:int}/delete", sync_to_thread=False)
def record_delete(db: DB, user: CurrentUser, record_id: FromPath[int]) -> Redirect:
    rec = get_or_404(db, m.InvolvementRecord, record_id, "There is no such record of involvement.")
    records.delete(db, user, rec)
    return Redirect(f"{BASE}?notice=deleted", status_code=303)


route_handlers: list[Any] = admin_area(
    BASE,
    [
        records_list,
        records_csv,
        record_new,
        record_create,
        record_edit,
        record_update,
        record_delete_confirm,
        record_delete,
    ],
)
