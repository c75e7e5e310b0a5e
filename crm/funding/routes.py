"""HTTP for funding calls: public list, call page and calendar file; admin CRUD, import and partner matching;
the JSON API. Handlers parse, authorise, call a service and choose a response.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response, Router, delete, get, patch, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.funding import forms as ff
from crm.funding import importer
from crm.funding import schemas as sc
from crm.funding import services as fs
from crm.funding.calendar import CalendarEvent, build_calendar
from crm.funding.matching import suggest_partners
from crm.history import history
from crm.partnerships import services as ps
from crm.web.auth import Principal, admin_guard
from crm.web.deps import DB, AppSettings, CurrentUser
from crm.web.errors import api_bad_body_handler, unprocessable
from crm.web.forms import Form, FormBody, MultipartBody
from crm.web.listing import ListParams, is_htmx


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _helpers() -> dict[str, Any]:
    return {"countdown": fs.countdown, "amount": amount_label, "statuses": list(m.CallStatus)}


def amount_label(amount_min: int | None, amount_max: int | None) -> str:
    def money(v: int) -> str:
        return f"£{v:,}"

    if amount_min is not None and amount_max is not None:
        return money(amount_min) if amount_min == amount_max else f"{money(amount_min)} to {money(amount_max)}"
    if amount_max is not None:
        return f"Up to {money(amount_max)}"
    if amount_min is not None:
        return f"From {money(amount_min)}"
    return ""


# ---------------------------------------------------------------------------------------------------------
# Public pages


@get("/funding-calls", sync_to_thread=False)
def public_list(request: Request[Any, Any, Any], db: DB) -> Template:
    params = ListParams.from_query(request.query_params.dict(), filter_names=fs.PUBLIC_FILTERS)
    now = _now()
    page = fs.list_calls(db, params, now=now, public=True)
    context = {**_helpers(), "page": page, "params": params, "sorts": page.sorts, "now": now}
    if is_htmx(request.headers):
        return Template("public/funding_results.html", context=context)
    return Template("public/funding_list.html", context={**context, **fs.filter_choices(db)})


def _public_call(db: Session, slug: str, user: Principal | None) -> m.FundingCall:
    call = fs.load_call(db, slug=slug)
    if call is None or (call.status == m.CallStatus.DRAFT and user is None):
        raise NotFoundException("There is no funding call at this address.")
    return call


@get("/funding-calls/{slug:str}", sync_to_thread=False)
def public_call(db: DB, user: CurrentUser, slug: FromPath[str]) -> Template:
    call = _public_call(db, slug, user)
    now = _now()
    return Template(
        "public/funding_call.html",
        context={
            **_helpers(),
            "call": call,
            "now": now,
            "open": fs.is_open(call, now),
            "upcoming": fs.upcoming_deadlines(call, now),
        },
    )


@get("/funding-calls/{slug:str}/deadline.ics", sync_to_thread=False)
def public_call_ics(db: DB, user: CurrentUser, settings: AppSettings, slug: FromPath[str]) -> Response[bytes]:
    """One VEVENT per deadline still ahead (or every deadline once the call has closed)."""
    call = _public_call(db, slug, user)
    now = _now()
    # UIDs follow the deadline's position in the call (1 = earliest), so they stay the same when the call is
    # edited (deadline rows are rewritten on save) and a re-download updates the same calendar entries.
    numbered = list(enumerate(call.deadlines, start=1))
    upcoming = [(n, d) for n, d in numbered if d.due_at > now]
    host = settings.base_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    page = f"{settings.base_url.rstrip('/')}/funding-calls/{call.slug}"
    events = [
        CalendarEvent(
            uid=f"funding-call-{call.id}-deadline-{n}@{host}",
            summary=f"Deadline: {call.title} ({d.label})" if d.label else f"Deadline: {call.title}",
            starts_at=d.due_at - dt.timedelta(minutes=30),
            description=f"{call.funder.name}. {d.label} deadline. Details: {page}",
            url=page,
        )
        for n, d in (upcoming or numbered)
    ]
    body = build_calendar(events, now=now, name=call.title)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{call.slug[:60]}-deadline.ics"'},
    )


public_handlers = [public_list, public_call, public_call_ics]


# ---------------------------------------------------------------------------------------------------------
# Admin pages (the fellow)


def _form_context(db: Session, form: Form, call: m.FundingCall | None) -> dict[str, Any]:
    return {
        "form": form,
        "call": call,
        "funders": fs.funder_choices(db),
        "topics": list(db.execute(select(m.Topic.id, m.Topic.name).order_by(m.Topic.name))),
        "regions": list(db.execute(select(m.Region.id, m.Region.name).order_by(m.Region.position))),
        "rows": ff.deadline_rows(form.data),
        "selected_topics": ff.selected(form.data, "topic_ids"),
        "selected_regions": ff.selected(form.data, "region_ids"),
    }


def _get_call(db: Session, call_id: int) -> m.FundingCall:
    call = fs.load_call(db, call_id=call_id)
    if call is None:
        raise NotFoundException("No such funding call.")
    return call


@get("/", sync_to_thread=False)
def admin_list(request: Request[Any, Any, Any], db: DB) -> Template:
    params = ListParams.from_query(request.query_params.dict(), filter_names=fs.ADMIN_FILTERS)
    now = _now()
    page = fs.list_calls(db, params, now=now, public=False)
    context = {**_helpers(), "page": page, "params": params, "sorts": page.sorts, "now": now}
    if is_htmx(request.headers):
        return Template("admin/funding_results.html", context=context)
    return Template("admin/funding_list.html", context={**context, **fs.filter_choices(db)})


@get("/new", sync_to_thread=False)
def admin_new(db: DB) -> Template:
    return Template("admin/funding_form.html", context=_form_context(db, Form({}), None))


@post("/new", sync_to_thread=False)
def admin_create(db: DB, user: CurrentUser, data: FormBody) -> Template | Redirect:
    form = Form(data)
    values = ff.parse_call_form(form)
    status = m.CallStatus.PUBLISHED if form.str("intent") == "publish" else m.CallStatus.DRAFT
    if form.ok:
        try:
            call = fs.create_call(db, user, values, now=_now(), status=status)
        except fs.CallError as exc:
            for key, message in exc.errors.items():
                form.add_error(key, message)
        else:
            return Redirect(f"/admin/funding-calls/{call.id}", status_code=303)
    return Template("admin/funding_form.html", context=_form_context(db, form, None), status_code=422)


@get("/{call_id:int}", sync_to_thread=False)
def admin_detail(db: DB, call_id: FromPath[int]) -> Template:
    call = _get_call(db, call_id)
    now = _now()
    partnerships = list(
        db.execute(
            select(m.Partnership.id, m.Partnership.title, m.Partnership.stage)
            .where(m.Partnership.funding_call_id == call.id)
            .order_by(m.Partnership.title)
        )
    )
    return Template(
        "admin/funding_detail.html",
        context={
            **_helpers(),
            "call": call,
            "now": now,
            "partnerships": partnerships,
            "history": history(db, fs.ENTITY, call.id),
        },
    )


@get("/{call_id:int}/edit", sync_to_thread=False)
def admin_edit(db: DB, call_id: FromPath[int]) -> Template:
    call = _get_call(db, call_id)
    return Template("admin/funding_form.html", context=_form_context(db, Form(ff.form_values(call)), call))


@post("/{call_id:int}/edit", sync_to_thread=False)
def admin_update(db: DB, user: CurrentUser, call_id: FromPath[int], data: FormBody) -> Template | Redirect:
    call = _get_call(db, call_id)
    form = Form(data)
    values = ff.parse_call_form(form)
    if form.ok:
        try:
            fs.update_call(db, user, call, values, now=_now())
        except fs.CallError as exc:
            for key, message in exc.errors.items():
                form.add_error(key, message)
        else:
            return Redirect(f"/admin/funding-calls/{call.id}", status_code=303)
    return Template("admin/funding_form.html", context=_form_context(db, form, call), status_code=422)


@post("/{call_id:int}/status", sync_to_thread=False)
def admin_status(db: DB, user: CurrentUser, call_id: FromPath[int], data: FormBody) -> Template | Redirect:
    call = _get_call(db, call_id)
    form = Form(data)
    target = form.choice("status", {s.value for s in m.CallStatus}, required=True, label="Status")
    if form.ok:
        try:
            fs.set_status(db, user, call, m.CallStatus(target), now=_now())
        except fs.CallError as exc:
            return _detail_with_error(db, call, exc.errors["status"])
    return Redirect(f"/admin/funding-calls/{call.id}", status_code=303)


def _detail_with_error(db: Session, call: m.FundingCall, message: str, blockers: list[str] | None = None) -> Template:
    return Template(
        "admin/funding_detail.html",
        context={
            **_helpers(),
            "call": call,
            "now": _now(),
            "partnerships": [],
            "history": history(db, fs.ENTITY, call.id),
            "problem": message,
            "blockers": blockers or [],
        },
        status_code=409,
    )


@post("/{call_id:int}/delete", sync_to_thread=False)
def admin_delete(db: DB, user: CurrentUser, call_id: FromPath[int]) -> Template | Redirect:
    call = _get_call(db, call_id)
    blockers = fs.delete_call(db, user, call)
    if blockers:
        return _detail_with_error(db, call, "This call cannot be deleted while these records refer to it:", blockers)
    return Redirect("/admin/funding-calls", status_code=303)


@get("/{call_id:int}/matches", sync_to_thread=False)
def admin_matches(db: DB, call_id: FromPath[int]) -> Template:
    call = _get_call(db, call_id)
    return Template(
        "admin/matching.html",
        context={"call": call, "suggestions": suggest_partners(db, call), "vcse_flags": call.requires_vcse_partner},
    )


@post("/{call_id:int}/matches/{organisation_id:int}/start", sync_to_thread=False)
def admin_start_partnership(
    db: DB, user: CurrentUser, call_id: FromPath[int], organisation_id: FromPath[int]
) -> Redirect:
    """One click from a suggestion: a partnership at stage "idea" linked to the call, the organisation on the VCSE
    side and the call's topics. The academic side is added on the partnership's page."""
    call = _get_call(db, call_id)
    org = db.get(m.Organisation, organisation_id)
    if org is None or org.kind != m.OrgKind.VCSE:
        raise NotFoundException("No such VCSE organisation.")
    p = ps.create_partnership(
        db,
        user,
        ps.PartnershipInput(
            title=f"{call.title} with {org.name}"[:300],
            funding_call_id=call.id,
            members=[ps.MemberInput(m.Side.VCSE, organisation_id=org.id, role="VCSE partner")],
            topic_ids=[t.id for t in call.topics],
            next_step="Find the academic lead and make first contact",
            next_step_due=ps.today_london(_now()) + dt.timedelta(days=14),
        ),
        now=_now(),
        require_both_sides=False,
    )
    return Redirect(f"/admin/partnerships/{p.id}?notice=started", status_code=303)


# Import: upload → preview (nothing written) → confirm (the same text posted back, checked again, then written).


@get("/import", sync_to_thread=False)
def import_page() -> Template:
    return Template(
        "admin/funding_import.html", context={"form": Form({}), "report": None, "columns": importer.COLUMNS}
    )


@get("/import/template.csv", sync_to_thread=False)
def import_template() -> Response[str]:
    return Response(
        importer.template_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="funding-calls-template.csv"'},
    )


@post("/import", sync_to_thread=False)
def import_preview(db: DB, user: CurrentUser, data: MultipartBody) -> Template:
    form = Form({})
    upload = data.get("file")
    text = ""
    if upload is not None and hasattr(upload, "file"):
        text = importer.decode(upload.file.read(importer.MAX_BYTES + 1))
    elif isinstance(data.get("csv_text"), str):
        text = data["csv_text"]
    if not text.strip():
        form.add_error("file", "Choose a CSV file to import.")
        return Template(
            "admin/funding_import.html",
            context={"form": form, "report": None, "columns": importer.COLUMNS},
            status_code=422,
        )
    report = importer.run_import(db, text, apply=False, actor=user, now=_now())
    return Template(
        "admin/funding_import.html",
        context={"form": form, "report": report, "csv_text": text, "columns": importer.COLUMNS},
    )


@post("/import/confirm", sync_to_thread=False)
def import_confirm(db: DB, user: CurrentUser, data: FormBody) -> Template:
    form = Form(data)
    text = str(data.get("csv_text", ""))
    skip_bad = form.bool("skip_bad_rows")
    now = _now()
    preview = importer.run_import(db, text, apply=False, actor=user, now=now)
    if preview.file_errors or (preview.errors and not skip_bad):
        return Template(
            "admin/funding_import.html",
            context={"form": form, "report": preview, "csv_text": text, "columns": importer.COLUMNS},
            status_code=422,
        )
    report = importer.run_import(db, text, apply=True, actor=user, now=now)
    return Template("admin/funding_import.html", context={"form": form, "report": report, "columns": importer.COLUMNS})


admin_router = Router(
    path="/admin/funding-calls",
    route_handlers=[
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
    guards=[admin_guard],
    include_in_schema=False,
)


# ---------------------------------------------------------------------------------------------------------
# JSON API


def _out(call: m.FundingCall, base_url: str) -> sc.FundingCallOut:
    return sc.FundingCallOut(
        id=call.id,
        slug=call.slug,
        title=call.title,
        url=call.url,
        page_url=f"{base_url.rstrip('/')}/funding-calls/{call.slug}",
        funder_id=call.funder_id,
        funder=call.funder.name,
        summary=call.summary,
        eligibility=call.eligibility,
        opens_at=call.opens_at,
        deadlines=[sc.Deadline(label=d.label, due_at=d.due_at) for d in call.deadlines],
        next_deadline_at=call.next_deadline_at,
        last_deadline_at=call.last_deadline_at,
        amount_min=call.amount_min,
        amount_max=call.amount_max,
        topics=[t.slug for t in call.topics],
        regions=[r.slug for r in call.regions],
        requires_vcse_partner=call.requires_vcse_partner,
        vcse_can_be_co_lead=call.vcse_can_be_co_lead,
        lead_must_be_academic=call.lead_must_be_academic,
        lead_must_be_vcse=call.lead_must_be_vcse,
        status=call.status.value,
        published_at=call.published_at,
        external_ref=call.external_ref,
        created_at=call.created_at,
        updated_at=call.updated_at,
    )


def _is_admin(user: Principal | None) -> bool:
    return user is not None and user.has_role(m.Role.ADMIN)


@get("/", sync_to_thread=False, summary="List funding calls")
def api_list(request: Request[Any, Any, Any], db: DB, settings: AppSettings, user: CurrentUser) -> sc.FundingCallPage:
    """Published calls still open, nearest deadline first, with the filters of /funding-calls (``q``, ``topic``,
    ``region``, ``funder`` by slug, ``vcse``=1, ``weeks``, ``min_amount``, ``max_amount``, ``sort``) and keyset
    paging: pass ``next_cursor`` back as ``cursor``. Admins may pass ``status`` (draft, published, closed) to see
    every call."""
    query = request.query_params.dict()
    admin_view = _is_admin(user) and bool(query.get("status"))
    params = ListParams.from_query(query, filter_names=fs.ADMIN_FILTERS if admin_view else fs.PUBLIC_FILTERS)
    page = fs.list_calls(db, params, now=_now(), public=not admin_view)
    base = settings.base_url.rstrip("/")
    return sc.FundingCallPage(
        items=[
            sc.FundingCallSummary(
                id=r.id,
                slug=r.slug,
                title=r.title,
                page_url=f"{base}/funding-calls/{r.slug}",
                funder=r.funder_name,
                status=r.status.value,
                next_deadline_at=r.next_deadline_at,
                amount_min=r.amount_min,
                amount_max=r.amount_max,
                requires_vcse_partner=r.requires_vcse_partner,
            )
            for r in page.items
        ],
        next_cursor=page.next_cursor,
        prev_cursor=page.prev_cursor,
    )


@get("/{call_id:int}", sync_to_thread=False, summary="Get a funding call")
def api_get(db: DB, settings: AppSettings, user: CurrentUser, call_id: FromPath[int]) -> sc.FundingCallOut:
    call = fs.load_call(db, call_id=call_id)
    if call is None or (call.status == m.CallStatus.DRAFT and not _is_admin(user)):
        raise NotFoundException("No such funding call.")
    return _out(call, settings.base_url)


def _slug_ids(db: Session, model: Any, values: list[str], field: str, errors: dict[str, str]) -> list[int]:
    if not values:
        return []
    cols = [model.slug, model.name] + ([model.code] if model is m.Region else [])
    found: dict[str, int] = {}
    for row in db.execute(select(model.id, *cols)):
        for v in row[1:]:
            found[str(v).lower()] = row[0]
    ids = []
    for v in values:
        if v.lower() in found:
            ids.append(found[v.lower()])
        else:
            errors[field] = f"Unknown {field[:-1]} “{v}”."
    return ids


def _input_from_api(db: Session, data: sc.FundingCallIn, base: fs.CallInput) -> fs.CallInput:
    errors: dict[str, str] = {}
    values = {k: v for k, v in ((f, getattr(data, f)) for f in data.__struct_fields__) if v is not sc.UNSET}
    out = fs.CallInput(**{**base.__dict__})
    for name in (
        "title",
        "funder_id",
        "url",
        "summary",
        "eligibility",
        "amount_min",
        "amount_max",
        "external_ref",
        *ff.FLAGS,
    ):
        if name in values:
            setattr(out, name, values[name])
    if "opens_at" in values:
        if values["opens_at"] is not None and values["opens_at"].tzinfo is None:
            errors["opens_at"] = "Give a time zone (e.g. 2027-01-01T00:00:00Z)."
        else:
            out.opens_at = values["opens_at"]
    if "deadlines" in values:
        if any(d.due_at.tzinfo is None for d in values["deadlines"]):
            errors["deadlines"] = "Give every deadline a time zone (e.g. 2027-01-31T17:00:00Z)."
        else:
            out.deadlines = [
                fs.DeadlineInput(label=d.label, due_at=d.due_at.astimezone(dt.UTC)) for d in values["deadlines"]
            ]
    if "topics" in values:
        out.topic_ids = _slug_ids(db, m.Topic, values["topics"], "topics", errors)
    if "regions" in values:
        out.region_ids = _slug_ids(db, m.Region, values["regions"], "regions", errors)
    if "status" in values and values["status"] not in {s.value for s in m.CallStatus}:
        errors["status"] = "Use draft, published or closed."
    if errors:
        raise unprocessable(errors)
    return out


def _api_errors(errors: dict[str, str]) -> dict[str, str]:
    return {{"topic_ids": "topics", "region_ids": "regions"}.get(k, k): v for k, v in errors.items()}


@post("/", sync_to_thread=False, guards=[admin_guard], summary="Create a funding call")
def api_create(
    db: DB, settings: AppSettings, user: CurrentUser, data: JSONBody[sc.FundingCallIn]
) -> Response[sc.FundingCallOut]:
    missing = {
        f: "This field is required." for f in ("title", "funder_id", "deadlines") if getattr(data, f) is sc.UNSET
    }
    if missing:
        raise unprocessable(missing)
    values = _input_from_api(db, data, fs.CallInput(title="", funder_id=None))
    status = m.CallStatus(data.status) if data.status is not sc.UNSET else m.CallStatus.DRAFT
    try:
        call = fs.create_call(db, user, values, now=_now(), status=status, source="API")
    except fs.CallError as exc:
        raise unprocessable(_api_errors(exc.errors)) from exc
    db.flush()
    db.expire(call)
    return Response(_out(_get_loaded(db, call.id), settings.base_url), status_code=201)


def _get_loaded(db: Session, call_id: int) -> m.FundingCall:
    call = fs.load_call(db, call_id=call_id)
    if call is None:
        raise NotFoundException("No such funding call.")
    return call


def _input_from_call(call: m.FundingCall) -> fs.CallInput:
    return fs.CallInput(
        title=call.title,
        funder_id=call.funder_id,
        url=call.url,
        summary=call.summary,
        eligibility=call.eligibility,
        opens_at=call.opens_at,
        deadlines=[fs.DeadlineInput(d.label, d.due_at) for d in call.deadlines],
        amount_min=call.amount_min,
        amount_max=call.amount_max,
        topic_ids=[t.id for t in call.topics],
        region_ids=[r.id for r in call.regions],
        requires_vcse_partner=call.requires_vcse_partner,
        vcse_can_be_co_lead=call.vcse_can_be_co_lead,
        lead_must_be_academic=call.lead_must_be_academic,
        lead_must_be_vcse=call.lead_must_be_vcse,
        external_ref=call.external_ref,
    )


@patch("/{call_id:int}", sync_to_thread=False, guards=[admin_guard], summary="Change a funding call")
def api_update(
    db: DB, settings: AppSettings, user: CurrentUser, call_id: FromPath[int], data: JSONBody[sc.FundingCallIn]
) -> sc.FundingCallOut:
    call = _get_loaded(db, call_id)
    values = _input_from_api(db, data, _input_from_call(call))
    now = _now()
    try:
        fs.update_call(db, user, call, values, now=now, source="API")
        if data.status is not sc.UNSET:
            fs.set_status(db, user, call, m.CallStatus(data.status), now=now)
    except fs.CallError as exc:
        raise unprocessable(_api_errors(exc.errors)) from exc
    db.flush()
    db.expire(call)
    return _out(_get_loaded(db, call_id), settings.base_url)


@delete("/{call_id:int}", sync_to_thread=False, guards=[admin_guard], summary="Delete a funding call")
def api_delete(db: DB, user: CurrentUser, call_id: FromPath[int]) -> None:
    call = _get_loaded(db, call_id)
    blockers = fs.delete_call(db, user, call)
    if blockers:
        raise HTTPException(status_code=409, detail="Still referenced: " + "; ".join(blockers))


@get(
    "/{call_id:int}/partner-suggestions", sync_to_thread=False, guards=[admin_guard], summary="Suggested VCSE partners"
)
def api_suggestions(db: DB, call_id: FromPath[int]) -> list[sc.Suggestion]:
    call = _get_loaded(db, call_id)
    return [
        sc.Suggestion(
            organisation_id=s.id,
            name=s.name,
            slug=s.slug,
            score=s.score,
            reasons=list(s.reasons),
            already_on_call=s.already_on_call,
        )
        for s in suggest_partners(db, call)
    ]


api_router = Router(
    path="/api/v1/funding-calls",
    route_handlers=[api_list, api_get, api_create, api_update, api_delete, api_suggestions],
    tags=["funding calls"],
    exception_handlers={HTTPException: api_bad_body_handler},
)

route_handlers: list[Any] = [*public_handlers, admin_router, api_router]
