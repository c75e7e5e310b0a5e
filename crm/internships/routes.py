"""HTTP for internships: the public list, pages, registration of interest and feed; the admin pages for the
fellow and host editors; the JSON API. Handlers parse, authorise (through the services) and choose a response.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from litestar import Request, Response, Router, delete, get, patch, post
from litestar.datastructures import State
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect, Template
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.history import history
from crm.internships import services
from crm.internships.alerts import subscribe_url
from crm.internships.feed import atom_feed
from crm.internships.jsonld import job_posting_jsonld
from crm.internships.schemas import InterestOut, InternshipIn, InternshipOut, InternshipPage, InternshipPatch
from crm.tokens import TokenError
from crm.web.auth import Principal, editor_guard
from crm.web.deps import DB, AppSettings, CurrentUser, client_ip
from crm.web.errors import api_bad_body_handler, unprocessable
from crm.web.forms import Form, FormBody
from crm.web.listing import ListParams, is_htmx

INTEREST_LIMIT_PER_HOUR = 10


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _common_context() -> dict[str, Any]:
    return {
        "directions": list(m.InternshipDirection),
        "modes": list(m.InternshipMode),
        "periods": list(m.StipendPeriod),
        "period_labels": services.PERIOD_LABELS,
        "stages": services.STAGE_LABELS,
        "stipend": services.stipend_label,
        "stage_label": services.stage_label,
    }


def _notify(
    state: State, db: Session, internship: m.Internship, before: m.InternshipStatus | None, action: str = ""
) -> None:
    """Moderation emails: the fellow when a listing starts waiting for approval, the poster when reviewed."""
    base_url = state.settings.base_url
    if internship.status == m.InternshipStatus.SUBMITTED and before != m.InternshipStatus.SUBMITTED:
        services.notify_submitted(db, state.renderer, internship, base_url)
    if action in {"approve", "reject"}:
        services.notify_reviewed(db, state.renderer, internship, action, base_url)


# ---------------------------------------------------------------------------------------------------------
# Public pages


@get("/internships", sync_to_thread=False)
def internship_list(request: Request[Any, Any, Any], db: DB) -> Template:
    params = ListParams.from_query(
        request.query_params.dict(), filter_names=services.FILTER_NAMES, multi=services.MULTI_FILTERS
    )
    page = services.public_list(db, params, now=_now())
    filters = services.Filters.from_mapping(params.filters)
    topics, regions = services.filter_options(db)  # the alert link needs their ids, the full page their names
    context = {
        **_common_context(),
        "page": page,
        "params": params,
        "filters": filters,
        "sorts": page.sorts,
        "alert_url": subscribe_url(filters, {t.slug: t.id for t in topics}, {r.slug: r.id for r in regions}),
    }
    if is_htmx(request.headers):
        return Template("public/internship_results.html", context=context)
    return Template("public/internships.html", context={**context, "topics": topics, "regions": regions})


@get("/internships/feed.xml", sync_to_thread=False)
def internship_feed(db: DB, settings: AppSettings) -> Response[bytes]:
    now = _now()
    body = atom_feed(services.open_listings(db, now=now), base_url=settings.base_url, now=now)
    return Response(body, media_type="application/atom+xml; charset=utf-8")


def _detail_page(
    db: Session, settings: Any, slug: str, *, form: Form | None = None, status_code: int = 200, **extra: Any
) -> Template:
    detail = services.public_detail(db, slug)
    now = _now()
    accepting = detail.is_open and detail.internship.closes_at > now
    return Template(
        "public/internship.html",
        context={
            **_common_context(),
            "d": detail,
            "i": detail.internship,
            "accepting": accepting,
            "jsonld": job_posting_jsonld(detail, settings.base_url) if accepting else "",
            "form": form or Form({}),
            "consent_wording": services.CONSENT_WORDING,
            **extra,
        },
        status_code=status_code,
    )


@get("/internships/offer", sync_to_thread=False)
def offer_page(user: CurrentUser) -> Template:
    """For hosts: how to offer a placement (editors post from the admin; others ask the fellow)."""
    can_post = user is not None and (user.is_admin or (user.has_role(m.Role.EDITOR) and user.organisation_id))
    return Template("public/internship_offer.html", context={"can_post": can_post})


@get("/internships/{slug:str}", sync_to_thread=False)
def internship_page(db: DB, settings: AppSettings, slug: FromPath[str]) -> Template:
    return _detail_page(db, settings, slug)


@post("/internships/{slug:str}/interest", sync_to_thread=False)
def register_interest(
    request: Request[Any, Any, Any], state: State, db: DB, settings: AppSettings, slug: FromPath[str], data: FormBody
) -> Template:
    detail = services.public_detail(db, slug)
    form = Form(data)
    values, errors = services.validate_interest(data)
    for key, message in errors.items():
        form.add_error(key, message)
    if not form.ok:
        return _detail_page(db, settings, slug, form=form, status_code=422)
    limiter = state.rate_limiter
    if not (
        limiter.allow(f"internship-interest:ip:{client_ip(request)}", INTEREST_LIMIT_PER_HOUR * 3, 3600)
        and limiter.allow(f"internship-interest:email:{values['email']}", INTEREST_LIMIT_PER_HOUR, 3600)
    ):
        return _detail_page(db, settings, slug, form=form, status_code=429, limited=True)
    try:
        result = services.register_interest(
            db,
            state.renderer,
            detail.internship,
            name=values["name"],
            email=values["email"],
            note=values["note"],
            host_name=detail.host_name,
            base_url=settings.base_url,
            now=_now(),
        )
    except services.TransitionError as exc:
        form.add_error("email", str(exc))
        return _detail_page(db, settings, slug, form=form, status_code=409)
    return Template(
        "public/internship_interest_done.html",
        context={"d": detail, "created": result.created, "email": values["email"]},
    )


@get("/internships/{slug:str}/host", sync_to_thread=False)
def host_confirm_page(state: State, db: DB, slug: FromPath[str], token: FromQuery[str] = "") -> Template:
    try:
        internship = services.host_token_internship(db, state.signer, token)
    except TokenError as exc:
        return Template("public/internship_host.html", context={"problem": str(exc)}, status_code=400)
    if internship.slug != slug:
        raise NotFoundException("That link is not for this internship.")
    return Template("public/internship_host.html", context={"i": internship, "token": token})


@post("/internships/{slug:str}/host", sync_to_thread=False)
def host_confirm(state: State, db: DB, slug: FromPath[str], data: FormBody) -> Template:
    form = Form(data)
    token = form.str("token", max_length=2000)
    try:
        internship = services.host_token_internship(db, state.signer, token)
    except TokenError as exc:
        return Template("public/internship_host.html", context={"problem": str(exc)}, status_code=400)
    if internship.slug != slug:
        raise NotFoundException("That link is not for this internship.")
    answer = form.str("answer")
    done = "open"
    if answer == "filled" and internship.status in (m.InternshipStatus.PUBLISHED, m.InternshipStatus.CLOSED):
        services.transition(db, None, internship, "filled", now=_now())
        done = "filled"
    elif answer == "filled" and internship.status == m.InternshipStatus.FILLED:
        done = "filled"
    return Template("public/internship_host.html", context={"i": internship, "done": done})


public_handlers = [
    internship_list,
    internship_feed,
    offer_page,
    internship_page,
    register_interest,
    host_confirm_page,
    host_confirm,
]


# ---------------------------------------------------------------------------------------------------------
# Admin pages: the fellow and host editors (scoped to their organisation by the services)


def _actor(user: Principal | None) -> Principal:
    if user is None:
        raise NotAuthorizedException("Sign in to continue.")
    return user


def _selected(raw: Any) -> set[str]:
    if raw is None:
        return set()
    values = raw if isinstance(raw, list) else [raw]
    return {str(v) for v in values}


def _form_page(
    db: Session,
    actor: Principal,
    form: Form,
    *,
    internship: m.Internship | None,
    status_code: int = 200,
) -> Template:
    topics, regions = services.filter_options(db)
    return Template(
        "admin/internship_form.html",
        context={
            **_common_context(),
            "form": form,
            "i": internship,
            "topics": topics,
            "regions": regions,
            "organisations": services.organisation_choices(db, actor),
            "selected_topics": _selected(form.data.get("topic_ids")),
            "selected_stages": _selected(form.data.get("career_stages")),
            "is_fellow": services.is_fellow(actor),
        },
        status_code=status_code,
    )


@get("/", sync_to_thread=False)
def admin_list(request: Request[Any, Any, Any], db: DB, user: CurrentUser) -> Template:
    actor = _actor(user)
    params = ListParams.from_query(request.query_params.dict(), filter_names=("status",))
    page = services.admin_list(db, actor, params)
    context = {
        **_common_context(),
        "page": page,
        "params": params,
        "sorts": page.sorts,
        "statuses": list(m.InternshipStatus),
        "is_fellow": services.is_fellow(actor),
    }
    if is_htmx(request.headers):
        return Template("admin/internship_results.html", context=context)
    return Template("admin/internship_list.html", context=context)


@get("/new", sync_to_thread=False)
def admin_new(db: DB, user: CurrentUser, organisation: FromQuery[int | None] = None) -> Template:
    actor = _actor(user)
    if not services.is_fellow(actor) and actor.organisation_id is None:
        raise PermissionDeniedException(
            "Your account is not linked to an organisation, so you cannot post internships."
        )
    org_id = organisation if organisation is not None else actor.organisation_id
    if org_id is not None and not services.is_fellow(actor):
        services.require_org(actor, org_id)
    return _form_page(db, actor, Form({"host_organisation_id": str(org_id or "")}), internship=None)


@post("/new", sync_to_thread=False)
def admin_create(state: State, db: DB, user: CurrentUser, data: FormBody) -> Template | Redirect:
    actor = _actor(user)
    org = str(data.get("host_organisation_id", "")).strip()
    if org.isdigit():
        services.require_org(actor, int(org))  # 403 before anything else for another organisation
    elif not services.is_fellow(actor) and actor.organisation_id is None:
        raise PermissionDeniedException("Your account is not linked to an organisation.")
    form = Form(data)
    cleaned, errors = services.validate(db, data, now=_now())
    for key, message in errors.items():
        form.add_error(key, message)
    if not form.ok:
        return _form_page(db, actor, form, internship=None, status_code=422)
    internship = services.create_internship(db, actor, cleaned, now=_now(), publish=data.get("intent") == "publish")
    _notify(state, db, internship, None)
    return Redirect(f"/admin/internships/{internship.id}?saved=1", status_code=303)


@get("/{internship_id:int}", sync_to_thread=False)
def admin_detail(db: DB, user: CurrentUser, internship_id: FromPath[int], saved: FromQuery[str] = "") -> Template:
    actor = _actor(user)
    detail = services.admin_detail(db, actor, internship_id)
    notice = {"1": "Saved.", "status": "Status changed."}.get(saved, "")
    return Template(
        "admin/internship_detail.html",
        context={
            **_common_context(),
            "d": detail,
            "i": detail.internship,
            "interests": services.interests_for(db, actor, detail.internship),
            "history": history(db, "internship", internship_id),
            "is_fellow": services.is_fellow(actor),
            "notice": notice,
            "error": "",
        },
    )


@get("/{internship_id:int}/edit", sync_to_thread=False)
def admin_edit(db: DB, user: CurrentUser, internship_id: FromPath[int]) -> Template:
    actor = _actor(user)
    internship = services.get_internship(db, internship_id)
    services.require_org(actor, internship.host_organisation_id)
    values = services.form_values(services.current_data(db, internship))
    return _form_page(db, actor, Form(values), internship=internship)


@post("/{internship_id:int}/edit", sync_to_thread=False)
def admin_update(
    state: State, db: DB, user: CurrentUser, internship_id: FromPath[int], data: FormBody
) -> Template | Redirect:
    actor = _actor(user)
    internship = services.get_internship(db, internship_id)
    services.require_org(actor, internship.host_organisation_id)
    org = str(data.get("host_organisation_id", "")).strip()
    if org.isdigit():
        services.require_org(actor, int(org))
    form = Form(data)
    cleaned, errors = services.validate(db, data, now=_now(), existing=internship)
    for key, message in errors.items():
        form.add_error(key, message)
    if not form.ok:
        return _form_page(db, actor, form, internship=internship, status_code=422)
    before = internship.status
    services.update_internship(db, actor, internship, cleaned, now=_now())
    _notify(state, db, internship, before)
    return Redirect(f"/admin/internships/{internship.id}?saved=1", status_code=303)


@post("/{internship_id:int}/{action:str}", sync_to_thread=False)
def admin_action(
    state: State, db: DB, user: CurrentUser, internship_id: FromPath[int], action: FromPath[str], data: FormBody
) -> Template | Redirect:
    actor = _actor(user)
    internship = services.get_internship(db, internship_id)
    services.require_org(actor, internship.host_organisation_id)
    if action == "delete":
        services.delete_internship(db, actor, internship)
        return Redirect("/admin/internships?deleted=1", status_code=303)
    if action not in services.TRANSITIONS:
        raise NotFoundException("No such action.")
    note = Form(data).str("note", max_length=1000)
    before = internship.status
    try:
        services.transition(db, actor, internship, action, now=_now(), note=note)
    except services.TransitionError as exc:
        detail = services.admin_detail(db, actor, internship_id)
        return Template(
            "admin/internship_detail.html",
            context={
                **_common_context(),
                "d": detail,
                "i": detail.internship,
                "interests": services.interests_for(db, actor, detail.internship),
                "history": history(db, "internship", internship_id),
                "is_fellow": services.is_fellow(actor),
                "notice": "",
                "error": str(exc),
            },
            status_code=409,
        )
    _notify(state, db, internship, before, action)
    return Redirect(f"/admin/internships/{internship.id}?saved=status", status_code=303)


admin_router = Router(
    path="/admin/internships",
    route_handlers=[admin_list, admin_new, admin_create, admin_detail, admin_edit, admin_update, admin_action],
    guards=[editor_guard],
    include_in_schema=False,
)


# ---------------------------------------------------------------------------------------------------------
# JSON API


def _can_see_private(user: Principal | None, org_id: int) -> bool:
    return services.can_manage_org(user, org_id)


class _DetailRow:
    """A loaded internship with its host and region names, shaped like a list row for ``_out_row``."""

    def __init__(self, detail: services.Detail) -> None:
        self._internship = detail.internship
        self.host_name = detail.host_name
        self.region_name = detail.region_name or None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._internship, name)


def _out(db: Session, settings: Any, detail: services.Detail, *, private: bool = False) -> InternshipOut:
    i = detail.internship
    out = _out_row(settings.base_url.rstrip("/"), _DetailRow(detail))
    out.description = i.description
    out.apply_url = i.apply_url
    out.apply_email = i.apply_email
    out.topics = [t.slug for t in detail.topics]
    out.career_stages = detail.stages
    if private:
        out.host_contact_name = i.host_contact_name
        out.host_contact_email = i.host_contact_email
        out.review_note = i.review_note
        out.interest_count = db.scalar(
            select(func.count(m.InternshipInterest.id)).where(m.InternshipInterest.internship_id == i.id)
        )
    return out


def _api_detail(db: Session, settings: Any, user: Principal | None, internship_id: int) -> InternshipOut:
    detail = services.detail_by_id(db, internship_id)
    private = _can_see_private(user, detail.internship.host_organisation_id)
    if detail.internship.status not in services.PUBLIC_STATUSES and not private:
        raise NotFoundException("No such internship.")
    return _out(db, settings, detail, private=private)


@get("/", sync_to_thread=False, summary="List internships")
def api_list(request: Request[Any, Any, Any], db: DB, settings: AppSettings, user: CurrentUser) -> InternshipPage:
    """Published listings that are still open, with the same filters as /internships (``direction``, ``topic``,
    ``region``, ``mode``, ``paid``, ``hours``, ``closing_within``, ``stage``, ``q``, ``sort``=closing|newest)
    and keyset paging: pass ``next_cursor`` back as ``cursor``. Editors and the fellow may pass ``status`` to
    list their own (or all) listings in any status."""
    query = request.query_params.dict()
    status = query.get("status")
    if status and user is not None and user.has_role(m.Role.EDITOR):
        params = ListParams.from_query(query, filter_names=("status",))
        page = services.admin_list(db, user, params)
    else:
        params = ListParams.from_query(query, filter_names=services.FILTER_NAMES, multi=services.MULTI_FILTERS)
        page = services.public_list(db, params, now=_now())
    base = settings.base_url.rstrip("/")
    counted = bool(page.items) and "interest_count" in page.items[0]._fields
    items = [_out_row(base, r, counted=counted) for r in page.items]
    return InternshipPage(items=items, next_cursor=page.next_cursor, prev_cursor=page.prev_cursor)


def _out_row(base: str, r: Any, *, counted: bool = False) -> InternshipOut:
    """``counted``: the row carries ``interest_count`` (the admin list); looking for it on every row cost more
    than the rest of the conversion."""
    return InternshipOut(
        id=r.id,
        slug=r.slug,
        title=r.title,
        url=f"{base}/internships/{r.slug}",
        host_organisation_id=r.host_organisation_id,
        host_name=r.host_name,
        direction=r.direction.value,
        mode=r.mode.value,
        paid=r.paid,
        stipend_pence=r.stipend_pence,
        stipend_period=r.stipend_period.value if r.stipend_period else None,
        stipend=services.stipend_label(r),
        hours_per_week=r.hours_per_week,
        duration=r.duration,
        closing_date=r.closing_date,
        closes_at=r.closes_at,
        status=r.status.value,
        region=r.region_name,
        published_at=r.published_at,
        interest_count=r.interest_count if counted else None,
    )


@get("/{internship_id:int}", sync_to_thread=False, summary="Get one internship")
def api_get(db: DB, settings: AppSettings, user: CurrentUser, internship_id: FromPath[int]) -> InternshipOut:
    """Public for published, closed and filled listings; drafts and submitted ones only for their host's
    editors and the fellow (who also see the host contact and the number of registrations of interest)."""
    return _api_detail(db, settings, user, internship_id)


@post("/", sync_to_thread=False, guards=[editor_guard], summary="Create an internship")
def api_create(
    state: State, db: DB, settings: AppSettings, user: CurrentUser, data: JSONBody[InternshipIn]
) -> Response[InternshipOut]:
    """Editors post for their own organisation only (403 otherwise); their listings wait for the fellow's
    approval (``status`` = submitted when ``publish`` is true, draft otherwise). Bad fields: 422 with
    ``errors`` [{field, message}]."""
    actor = _actor(user)
    services.require_org(actor, data.host_organisation_id)
    raw = msgspec.structs.asdict(data)
    publish = bool(raw.pop("publish"))
    cleaned, errors = services.validate(db, raw, now=_now())
    if errors:
        raise unprocessable(errors)
    internship = services.create_internship(db, actor, cleaned, now=_now(), publish=publish)
    _notify(state, db, internship, None)
    return Response(_api_detail(db, settings, actor, internship.id), status_code=201)


@patch("/{internship_id:int}", sync_to_thread=False, guards=[editor_guard], summary="Change an internship")
def api_update(
    state: State,
    db: DB,
    settings: AppSettings,
    user: CurrentUser,
    internship_id: FromPath[int],
    data: JSONBody[InternshipPatch],
) -> InternshipOut:
    actor = _actor(user)
    internship = services.get_internship(db, internship_id)
    services.require_org(actor, internship.host_organisation_id)
    raw = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    action = raw.pop("action", None)
    note = raw.pop("note", "") or ""
    if isinstance(raw.get("host_organisation_id"), int):
        services.require_org(actor, raw["host_organisation_id"])
    before = internship.status
    if raw:
        cleaned, errors = services.validate(db, raw, now=_now(), existing=internship, partial=True)
        if errors:
            raise unprocessable(errors)
        services.update_internship(db, actor, internship, cleaned, now=_now())
    if action:
        if action not in services.TRANSITIONS:
            raise unprocessable({"action": "Use one of: " + ", ".join(services.TRANSITIONS)})
        try:
            services.transition(db, actor, internship, action, now=_now(), note=note)
        except services.TransitionError as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from exc
    _notify(state, db, internship, before, action or "")
    return _api_detail(db, settings, actor, internship.id)


@delete("/{internship_id:int}", sync_to_thread=False, guards=[editor_guard], summary="Delete an internship")
def api_delete(db: DB, user: CurrentUser, internship_id: FromPath[int]) -> None:
    actor = _actor(user)
    internship = services.get_internship(db, internship_id)
    services.delete_internship(db, actor, internship)


@get("/{internship_id:int}/interests", sync_to_thread=False, guards=[editor_guard], summary="Registrations of interest")
def api_interests(db: DB, user: CurrentUser, internship_id: FromPath[int]) -> list[InterestOut]:
    """Personal data: only for the fellow and the host organisation's editors."""
    actor = _actor(user)
    internship = services.get_internship(db, internship_id)
    rows = services.interests_for(db, actor, internship)
    return [InterestOut(id=r.id, name=r.name, email=r.email, note=r.note, created_at=r.created_at) for r in rows]


api_router = Router(
    path="/api/v1/internships",
    route_handlers=[api_list, api_get, api_create, api_update, api_delete, api_interests],
    tags=["internships"],
    exception_handlers={HTTPException: api_bad_body_handler},
)

route_handlers: list[Any] = [*public_handlers, admin_router, api_router]
