"""The funding calls' JSON API under /api/v1/funding-calls: list, read, create, change, delete, partner suggestions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import MediaType, Request, Response, delete, get, patch, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, JSONBody
from sqlalchemy.orm import Session

from crm import filter_choices
from crm import models as m
from crm.api.openapi import PUBLIC_READ
from crm.api.responses import encode_json, json_response
from crm.funding import fit, queries
from crm.funding import forms as ff
from crm.funding import schemas as sc
from crm.funding import services as fs
from crm.funding.matching import suggest_partners
from crm.funding.views import call_or_404
from crm.funding.views import now as _now
from crm.listing import ListParams
from crm.web.areas import api_area
from crm.web.auth import Principal, admin_guard, current_user
from crm.web.deps import DB, AppSettings, CurrentUser
from crm.web.errors import unprocessable
from crm.web.httpcache import ANONYMOUS_JSON
from crm.web.pages import api_attempt_as, api_page


def _page_url(base_url: str, slug: str) -> str:
    return f"{base_url.rstrip('/')}/funding-calls/{slug}"


def _out(call: m.FundingCall, base_url: str) -> sc.FundingCallOut:
    return sc.FundingCallOut(
        id=call.id,
        slug=call.slug,
        title=call.title,
        url=call.url,
        page_url=_page_url(base_url, call.slug),
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
        funding_type=call.funding_type.value if call.funding_type else None,  # type: ignore[arg-type]
        application_effort=call.application_effort.value if call.application_effort else None,  # type: ignore[arg-type]
        open_to_unregistered=call.open_to_unregistered,
        open_to_user_led=call.open_to_user_led,
        match_funding_required=call.match_funding_required,
        lived_experience_payment=call.lived_experience_payment,
        suits_small_user_led=fit.call_suits(call),
        status=call.status.value,
        published_at=call.published_at,
        external_ref=call.external_ref,
        created_at=call.created_at,
        updated_at=call.updated_at,
    )


def _is_admin(user: Principal | None) -> bool:
    return user is not None and user.has_role(m.Role.ADMIN)


def _checked_params(request: Request[Any, Any, Any], names: Any, db: Any) -> ListParams:
    """The list's parameters, or a 422 problem naming each filter that is not a value it can take (an amount that is
    not one, a topic, region or funder it does not list, ``crm.filter_choices``): a list that silently dropped the
    filter, or matched nothing, would answer a question nobody asked."""
    params = ListParams.from_query(request.query_params.dict(), filter_names=names)
    problems = queries.filter_problems(params.filters)
    problems.update(filter_choices.api_messages(queries.unknown_filters(db, params)))
    if problems:
        raise unprocessable(problems)
    return params


def public_list_json(request: Request[Any, Any, Any]) -> bytes:
    """The public list as anonymous visitors get it, encoded: what ``api_list`` answers everyone but admins asking for
    a status, and what the cheap path of anonymous GETs sends without the handler
    (``crm.web.httpcache.ANONYMOUS_JSON``). It reads on a pooled connection (no session, no transaction to commit; a
    search opens a session on it) and encodes the page once."""
    state = request.app.state
    base = state.settings.base_url
    with state.engine.connect() as connection:
        params = _checked_params(request, queries.PUBLIC_FILTERS, connection)
        page = queries.list_calls(connection, params, now=_now(), public=True)
    return encode_json(api_page(sc.FundingCallPage, page, lambda r: _summary(r, base)))


@get(
    "/",
    sync_to_thread=False,
    summary="List funding calls",
    security=PUBLIC_READ,
    opt={ANONYMOUS_JSON: public_list_json},
)
def api_list(request: Request[Any, Any, Any]) -> Response[sc.FundingCallPage]:
    """Published calls still open, nearest deadline first, with the filters of /funding-calls (``q``, ``topic``,
    ``region``, ``funder`` by slug, ``vcse``=1, ``suits``=1 (calls that suit small user-led groups: core funding or
    a small grant, open to unregistered or user-led groups, light application), ``weeks``, ``min_amount``,
    ``max_amount``, ``sort``) and keyset
    paging: pass ``next_cursor`` back as ``cursor``. Admins may pass ``status`` (draft, published, closed) to see
    every call. An amount filter that is not whole pounds from 0 to 2,000,000,000, or a topic, region or funder
    the list does not know, is a 422 problem naming it."""
    # No dependencies and no transaction to commit: the list only reads. Anonymous visitors are answered by
    # ``public_list_json`` before this handler runs, unless they ask past the cache.
    query = request.query_params.dict()
    if not (_is_admin(current_user(request)) and query.get("status")):
        return Response(public_list_json(request), media_type=MediaType.JSON)
    base = request.app.state.settings.base_url
    with request.app.state.session_factory() as db:
        params = _checked_params(request, queries.ADMIN_FILTERS, db)
        page = queries.list_calls(db, params, now=_now(), public=False)
    return json_response(api_page(sc.FundingCallPage, page, lambda r: _summary(r, base)))


def _summary(r: Any, base_url: str) -> sc.FundingCallSummary:
    return sc.FundingCallSummary(
        id=r.id,
        slug=r.slug,
        title=r.title,
        page_url=_page_url(base_url, r.slug),
        funder=r.funder_name,
        status=r.status.value,
        next_deadline_at=r.next_deadline_at,
        amount_min=r.amount_min,
        amount_max=r.amount_max,
        requires_vcse_partner=r.requires_vcse_partner,
        funding_type=r.funding_type.value if r.funding_type else None,
        application_effort=r.application_effort.value if r.application_effort else None,
        suits_small_user_led=fit.call_suits(r),
    )


@get("/{call_id:int}", sync_to_thread=False, summary="Get a funding call", security=PUBLIC_READ)
def api_get(db: DB, settings: AppSettings, user: CurrentUser, call_id: FromPath[int]) -> sc.FundingCallOut:
    call = queries.load_call(db, call_id=call_id)
    if call is None or (call.status == m.CallStatus.DRAFT and not _is_admin(user)):
        raise NotFoundException("No such funding call.")
    return _out(call, settings.base_url)


def _slug_ids(db: Session, model: Any, values: list[str], field: str, errors: dict[str, str]) -> list[int]:
    if not values:
        return []
    found = queries.ids_by_label(db, model)
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
        *fit.FIT_FIELDS,
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


API_NAMES = {"topic_ids": "topics", "region_ids": "regions"}  # the service's field names as the API names them


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
    call = api_attempt_as(API_NAMES, lambda: fs.create_call(db, user, values, now=_now(), status=status, source="API"))
    db.flush()
    db.expire(call)
    return Response(_out(call_or_404(db, call.id), settings.base_url), status_code=201)


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
        funding_type=call.funding_type.value if call.funding_type else None,
        application_effort=call.application_effort.value if call.application_effort else None,
        open_to_unregistered=call.open_to_unregistered,
        open_to_user_led=call.open_to_user_led,
        match_funding_required=call.match_funding_required,
        lived_experience_payment=call.lived_experience_payment,
    )


@patch("/{call_id:int}", sync_to_thread=False, guards=[admin_guard], summary="Change a funding call")
def api_update(
    db: DB, settings: AppSettings, user: CurrentUser, call_id: FromPath[int], data: JSONBody[sc.FundingCallIn]
) -> sc.FundingCallOut:
    call = call_or_404(db, call_id)
    values = _input_from_api(db, data, _input_from_call(call))
    now = _now()

    def change() -> None:
        fs.update_call(db, user, call, values, now=now, source="API")
        if data.status is not sc.UNSET:
            fs.set_status(db, user, call, m.CallStatus(data.status), now=now)

    api_attempt_as(API_NAMES, change)
    db.flush()
    db.expire(call)
    return _out(call_or_404(db, call_id), settings.base_url)


@delete("/{call_id:int}", sync_to_thread=False, guards=[admin_guard], summary="Delete a funding call")
def api_delete(db: DB, user: CurrentUser, call_id: FromPath[int]) -> None:
    call = call_or_404(db, call_id)
    blockers = fs.delete_call(db, user, call)
    if blockers:
        raise HTTPException(status_code=409, detail="Still referenced: " + "; ".join(blockers))


@get(
    "/{call_id:int}/partner-suggestions", sync_to_thread=False, guards=[admin_guard], summary="Suggested VCSE partners"
)
def api_suggestions(db: DB, call_id: FromPath[int]) -> list[sc.Suggestion]:
    call = call_or_404(db, call_id)
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


route_handlers: list[Any] = api_area(
    "/api/v1/funding-calls",
    [api_list, api_get, api_create, api_update, api_delete, api_suggestions],
    tag="funding calls",
)
