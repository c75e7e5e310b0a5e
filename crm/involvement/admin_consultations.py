"""The researcher's consultation pages (/admin/involvement/consultations): the list, writing a request, choosing
the groups (who is left out and why), sending with a preview of the email, who answered, closing and the outcome.

The fellow sees every request; an editor of a university or research team (``crm.involvement.access``) sees the
requests they wrote or their organisation's, and another's is "not found". Handlers parse, check who is asking,
call one service and choose a response; a refused action comes back as its page with the reason (409), never 500.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.errors import FieldErrors
from crm.history import history
from crm.involvement import access, consultation, consultation_groups
from crm.listing import ListParams
from crm.validation import record_id
from crm.web.areas import admin_area
from crm.web.auth import Principal, editor_guard
from crm.web.deps import DB, AppSettings, CurrentUser
from crm.web.forms import Form, FormBody
from crm.web.pages import attempt, form_page, list_page
from crm.web.pages import notice as notice_text

BASE = "/admin/involvement/consultations"
NOTICES = {
    "created": "Saved as a draft. Now choose the groups to ask.",
    "saved": "Saved.",
    "unchanged": "Nothing was changed.",
    "groups": "The groups are saved.",
    "closed": "The request is closed. Answer pages now say so.",
    "outcome": "The outcome is saved.",
    "extended": "The answer-by date is changed. Answer links work until the new date.",
    "deleted": "The draft is deleted.",
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _actor(db: Session, user: Principal | None) -> Principal:
    """The signed-in researcher, when they may use these pages (403 with the reason otherwise)."""
    if user is None:
        raise NotAuthorizedException("Sign in to continue.")
    return access.require_poster(db, user)


def _to(req_id: int, notice: str, page: str = "") -> Redirect:
    return Redirect(f"{BASE}/{req_id}{page}?notice={notice}", status_code=303)


def _ids(raw: Any) -> list[int]:
    values = raw if isinstance(raw, list) else ([] if raw is None else [raw])
    return [i for i in map(record_id, values) if i is not None]


# ---------------------------------------------------------------------------------------------------------------
# List, new, edit


@get("/", sync_to_thread=False)
def consultation_list(request: Request[Any, Any, Any], db: DB, user: CurrentUser) -> Template:
    actor = _actor(db, user)
    params = ListParams.from_query(request.query_params.dict(), filter_names=("status",))
    page = consultation.admin_list(db, actor, params)
    context = {
        "page": page,
        "params": params,
        "sorts": consultation.SORTS,
        "statuses": consultation.STATUS_CHOICES,
        "notice": notice_text(request.query_params.get("notice", ""), NOTICES),
    }
    return list_page(
        request, "admin/involvement/consultations.html", "admin/involvement/consultations_results.html", context
    )


def _form(db: Session, actor: Principal, form: Form, req: m.ConsultationRequest | None) -> Template:
    context = {
        "req": req,
        "organisations": consultation.organisation_choices(db, actor),
        "is_fellow": actor.is_admin,
        "today": consultation.today(_now()).isoformat(),
    }
    return form_page("admin/involvement/consultation_form.html", context, form=form)


@get("/new", sync_to_thread=False)
def consultation_new(db: DB, user: CurrentUser) -> Template:
    actor = _actor(db, user)
    return _form(db, actor, Form(consultation.form_values(None, actor)), None)


@post("/new", sync_to_thread=False)
def consultation_create(db: DB, user: CurrentUser, data: FormBody) -> Template | Redirect:
    actor = _actor(db, user)
    form = Form(data)
    req = attempt(form, lambda: consultation.create(db, actor, consultation.validate(db, actor, data, now=_now())))
    if req is None:
        return _form(db, actor, form, None)
    return _to(req.id, "created", "/groups")


def _refused(db: Session, actor: Principal, req: m.ConsultationRequest, message: str) -> Template:
    return _detail(db, actor, req, error=message, status_code=409)


@get("/{req_id:int}/edit", sync_to_thread=False)
def consultation_edit(db: DB, user: CurrentUser, req_id: FromPath[int]) -> Template:
    actor = _actor(db, user)
    req = consultation.get_owned(db, actor, req_id)
    if req.status != m.ConsultationStatus.DRAFT:
        return _refused(db, actor, req, consultation.SENT_MESSAGE)
    return _form(db, actor, Form(consultation.form_values(req, actor)), req)


@post("/{req_id:int}/edit", sync_to_thread=False)
def consultation_update(db: DB, user: CurrentUser, req_id: FromPath[int], data: FormBody) -> Template | Redirect:
    actor = _actor(db, user)
    req = consultation.get_owned(db, actor, req_id)
    if req.status != m.ConsultationStatus.DRAFT:
        return _refused(db, actor, req, consultation.SENT_MESSAGE)
    form = Form(data)
    changed = attempt(
        form, lambda: consultation.update(db, actor, req, consultation.validate(db, actor, data, now=_now()))
    )
    if changed is None:
        return _form(db, actor, form, req)
    return _to(req.id, "saved" if changed else "unchanged")


# ---------------------------------------------------------------------------------------------------------------
# The request's page


def _detail(
    db: Session,
    actor: Principal,
    req: m.ConsultationRequest,
    *,
    notice: str = "",
    error: str = "",
    outcome_form: Form | None = None,
    extend_form: Form | None = None,
    status_code: int = 200,
) -> Template:
    rows = consultation_groups.recipient_rows(db, req.id)
    return Template(
        "admin/involvement/consultation.html",
        context={
            "req": req,
            "rows": rows,
            "progress": consultation.progress(rows),
            "organisation": consultation_groups.organisation_name(db, req.organisation_id),
            "unsent": sum(1 for r in rows if r.sent_at is None),
            "outcome_form": outcome_form or Form({"outcome": req.outcome, "what_changed": req.what_changed}),
            "extend_form": extend_form or Form({}),
            "history": history(db, "consultation", req.id),
            "is_fellow": actor.is_admin,  # the record of involvement is the fellow's
            "is_open": req.status == m.ConsultationStatus.SENT and consultation.today(_now()) <= req.answer_by,
            "notice": notice,
            "error": error,
        },
        status_code=status_code,
    )


@get("/{req_id:int}", sync_to_thread=False)
def consultation_detail(
    db: DB,
    user: CurrentUser,
    req_id: FromPath[int],
    notice: FromQuery[str] = "",
    sent: FromQuery[str] = "",
    left: FromQuery[str] = "",
) -> Template:
    actor = _actor(db, user)
    text = _sent_notice(sent, left) if notice == "sent" else notice_text(notice, NOTICES)
    return _detail(db, actor, consultation.get_owned(db, actor, req_id), notice=text)


@post("/{req_id:int}/close", sync_to_thread=False)
def consultation_close(db: DB, user: CurrentUser, req_id: FromPath[int]) -> Template | Redirect:
    actor = _actor(db, user)
    req = consultation.get_owned(db, actor, req_id)
    try:
        consultation.close(db, actor, req, now=_now())
    except consultation.StateError as exc:
        return _refused(db, actor, req, str(exc))
    return _to(req.id, "closed")


@post("/{req_id:int}/outcome", sync_to_thread=False)
def consultation_outcome(db: DB, user: CurrentUser, req_id: FromPath[int], data: FormBody) -> Template | Redirect:
    actor = _actor(db, user)
    req = consultation.get_owned(db, actor, req_id)
    form = Form(data)
    try:
        changed = attempt(form, lambda: consultation.save_outcome(db, actor, req, data))
    except consultation.StateError as exc:
        return _refused(db, actor, req, str(exc))
    if changed is None:
        return _detail(db, actor, req, outcome_form=form, status_code=422)
    return _to(req.id, "outcome" if changed else "unchanged")


@post("/{req_id:int}/extend", sync_to_thread=False)
def consultation_extend(db: DB, user: CurrentUser, req_id: FromPath[int], data: FormBody) -> Template | Redirect:
    actor = _actor(db, user)
    req = consultation.get_owned(db, actor, req_id)
    form = Form(data)
    try:
        done = attempt(form, lambda: consultation.extend(db, actor, req, data, now=_now()))
    except consultation.StateError as exc:
        return _refused(db, actor, req, str(exc))
    if done is None:
        return _detail(db, actor, req, extend_form=form, status_code=422)
    return _to(req.id, "extended")


@get("/{req_id:int}/delete", sync_to_thread=False)
def consultation_delete_confirm(db: DB, user: CurrentUser, req_id: FromPath[int]) -> Template:
    actor = _actor(db, user)
    req = consultation.get_owned(db, actor, req_id)
    if req.status != m.ConsultationStatus.DRAFT:
        return _refused(db, actor, req, "Only a request that was never sent can be deleted. Close it instead.")
    return Template("admin/involvement/consultation_delete.html", context={"req": req})


@post("/{req_id:int}/delete", sync_to_thread=False)
def consultation_delete(db: DB, user: CurrentUser, req_id: FromPath[int]) -> Template | Redirect:
    actor = _actor(db, user)
    req = consultation.get_owned(db, actor, req_id)
    try:
        consultation.delete_draft(db, actor, req)
    except consultation.StateError as exc:
        return _refused(db, actor, req, str(exc))
    return Redirect(f"{BASE}?notice=deleted", status_code=303)


# ---------------------------------------------------------------------------------------------------------------
# Choosing the groups, sending


def _groups_page(
    db: Session, req: m.ConsultationRequest, flt: consultation_groups.GroupFilter, *, error: str = "", notice: str = ""
) -> Template:
    rows = consultation_groups.recipient_rows(db, req.id)
    return Template(
        "admin/involvement/consultation_groups.html",
        context={
            "req": req,
            "flt": flt,
            "found": consultation_groups.candidates(db, flt),
            "chosen": {r.organisation_id for r in rows},
            "sent": {r.organisation_id for r in rows if r.sent_at is not None},
            "rows": rows,
            "categories": [(c.value, c.value) for c in m.VcseCategory],
            "topics": list(db.execute(select(m.Topic.id, m.Topic.name).order_by(m.Topic.name))),
            "regions": list(db.execute(select(m.Region.id, m.Region.name).order_by(m.Region.position))),
            "error": error,
            "notice": notice,
        },
        status_code=422 if error else 200,
    )


@get("/{req_id:int}/groups", sync_to_thread=False)
def consultation_groups_page(
    request: Request[Any, Any, Any], db: DB, user: CurrentUser, req_id: FromPath[int]
) -> Template:
    actor = _actor(db, user)
    req = consultation.get_owned(db, actor, req_id)
    if req.status == m.ConsultationStatus.CLOSED:
        return _refused(db, actor, req, consultation.CLOSED_MESSAGE)
    flt = consultation_groups.GroupFilter.from_query(request.query_params.dict())
    notice = notice_text(request.query_params.get("notice", ""), NOTICES)
    return _groups_page(db, req, flt, notice=notice)


@post("/{req_id:int}/groups", sync_to_thread=False)
def consultation_groups_save(db: DB, user: CurrentUser, req_id: FromPath[int], data: FormBody) -> Template | Redirect:
    actor = _actor(db, user)
    req = consultation.get_owned(db, actor, req_id)
    shown = _ids(data.get("shown"))
    chosen = shown if data.get("all") == "1" else _ids(data.get("group"))
    try:
        consultation_groups.choose_groups(db, actor, req, chosen, shown)
    except consultation.StateError as exc:
        return _refused(db, actor, req, str(exc))
    except FieldErrors as exc:
        flt = consultation_groups.GroupFilter.from_query(data)
        return _groups_page(db, req, flt, error=exc.errors["groups"])
    return _to(req.id, "groups")


def _send_page(
    state: State, db: Session, req: m.ConsultationRequest, *, error: str = "", status_code: int = 200
) -> Template:
    groups, _ = consultation_groups.pending_groups(db, req.id)
    context = {
        **consultation_groups.email_context(db, req),
        "group_name": "[the group's name]",
        "answer_url": "[the group's private answer link]",
    }
    return Template(
        "admin/involvement/consultation_send.html",
        context={
            "req": req,
            "pending": [g for g in groups if not g.left_out],
            "left_out": [g for g in groups if g.left_out],
            "preview": state.renderer.render("involvement/consultation_request", context),
            "error": error,
        },
        status_code=status_code,
    )


@get("/{req_id:int}/send", sync_to_thread=False)
def consultation_send_confirm(state: State, db: DB, user: CurrentUser, req_id: FromPath[int]) -> Template:
    actor = _actor(db, user)
    req = consultation.get_owned(db, actor, req_id)
    if req.status == m.ConsultationStatus.CLOSED:
        return _refused(db, actor, req, consultation.CLOSED_MESSAGE)
    return _send_page(state, db, req)


@post("/{req_id:int}/send", sync_to_thread=False)
def consultation_send(
    state: State, db: DB, settings: AppSettings, user: CurrentUser, req_id: FromPath[int]
) -> Template | Redirect:
    actor = _actor(db, user)
    req = consultation.get_owned(db, actor, req_id)
    try:
        sent = consultation_groups.send(
            db, state.renderer, state.signer, actor, req, base_url=settings.base_url, now=_now()
        )
    except consultation.StateError as exc:
        return _refused(db, actor, req, str(exc))
    except FieldErrors as exc:
        return _send_page(state, db, req, error=" ".join(exc.errors.values()), status_code=409)
    query = f"notice=sent&sent={sent.sent}&left={len(sent.left_out)}"
    return Redirect(f"{BASE}/{req.id}?{query}", status_code=303)


def _sent_notice(sent_raw: str, left_raw: str) -> str:
    """What the request's page says after sending (counts only: the page itself names each group)."""
    sent, left = (int(v) if v.isdigit() and len(v) < 6 else 0 for v in (sent_raw, left_raw))
    text = f"Sent to {sent} group{'s' if sent != 1 else ''}."
    if left:
        text += f" {left} group{'s' if left != 1 else ''} could not be sent to: see “Not sent” below."
    return text


route_handlers: list[Any] = admin_area(
    BASE,
    [
        consultation_list,
        consultation_new,
        consultation_create,
        consultation_detail,
        consultation_edit,
        consultation_update,
        consultation_close,
        consultation_outcome,
        consultation_extend,
        consultation_delete_confirm,
        consultation_delete,
        consultation_groups_page,
        consultation_groups_save,
        consultation_send_confirm,
        consultation_send,
    ],
    guard=editor_guard,
)
