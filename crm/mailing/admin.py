"""The fellow's mail pages: the outbox (with resend and the framed HTML preview), subscribers with their consent
history, and the suppression list."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from crm import models as m
from crm.audit import record
from crm.mailing import subscriptions as subs
from crm.mailing import suppression
from crm.mailing.consent import CONSENT_TEXTS
from crm.web.auth import admin_guard
from crm.web.deps import DB, CurrentUser
from crm.web.forms import Form, FormBody
from crm.web.listing import ListParams, SortOption, Sorts, is_htmx, keyset_page

OUTBOX_PAGE = 50


# --- admin: outbox ----------------------------------------------------------------------------------------------


@get("/admin/mail", guards=[admin_guard], sync_to_thread=False, include_in_schema=False)
def outbox_list(
    db: DB, status: FromQuery[str] = "", q: FromQuery[str] = "", before: FromQuery[int | None] = None
) -> Template:
    """Newest first, keyset-paged by id so deep pages cost the same as the first."""
    query = select(
        m.OutboxMessage.id,
        m.OutboxMessage.kind,
        m.OutboxMessage.recipient,
        m.OutboxMessage.subject,
        m.OutboxMessage.status,
        m.OutboxMessage.attempts,
        m.OutboxMessage.created_at,
        m.OutboxMessage.sent_at,
        m.OutboxMessage.last_error,
        m.OutboxMessage.provider_message_id,
    ).order_by(m.OutboxMessage.id.desc())
    if status in {s.value for s in m.OutboxStatus}:
        query = query.where(m.OutboxMessage.status == status)
    if q:
        query = query.where(m.OutboxMessage.recipient.contains(q.strip().lower(), autoescape=True))
    if before:
        query = query.where(m.OutboxMessage.id < before)
    rows = db.execute(query.limit(OUTBOX_PAGE + 1)).all()
    more = len(rows) > OUTBOX_PAGE
    rows = rows[:OUTBOX_PAGE]
    return Template(
        "admin/mail_list.html",
        context={
            "rows": rows,
            "status": status,
            "q": q,
            "statuses": [s.value for s in m.OutboxStatus],
            "next_before": rows[-1].id if more and rows else None,
        },
    )


def _message(db: DB, message_id: int) -> m.OutboxMessage:
    message = db.get(m.OutboxMessage, message_id)
    if message is None:
        raise NotFoundException("No such message.")
    return message


RESENDABLE = {m.OutboxStatus.FAILED, m.OutboxStatus.AMBIGUOUS, m.OutboxStatus.SUPPRESSED, m.OutboxStatus.CANCELLED}


@get("/admin/mail/{message_id:int}", guards=[admin_guard], sync_to_thread=False, include_in_schema=False)
def outbox_detail(db: DB, message_id: FromPath[int], resent: FromQuery[str] = "") -> Template:
    message = _message(db, message_id)
    events = db.scalars(
        select(m.DeliveryEvent).where(m.DeliveryEvent.outbox_id == message_id).order_by(m.DeliveryEvent.id)
    ).all()
    return Template(
        "admin/mail_detail.html",
        context={
            "message": message,
            "events": events,
            "can_resend": message.status in RESENDABLE and message.status != m.OutboxStatus.SUPPRESSED,
            "notice": "The message is queued again." if resent else "",
        },
    )


@get("/admin/mail/{message_id:int}/html", guards=[admin_guard], sync_to_thread=False, include_in_schema=False)
def outbox_html(db: DB, message_id: FromPath[int]) -> Response[Any]:
    """The rendered HTML, framed by the detail page, with a CSP that allows only inline styles and no scripts."""
    message = _message(db, message_id)
    return Response(
        message.html_body or "<p>(no HTML part)</p>",
        media_type="text/html",
        headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
            "frame-ancestors 'self'; sandbox",
            "X-Frame-Options": "SAMEORIGIN",
        },
    )


@post("/admin/mail/{message_id:int}/resend", guards=[admin_guard], sync_to_thread=False, include_in_schema=False)
def outbox_resend(db: DB, user: CurrentUser, message_id: FromPath[int]) -> Redirect:
    """Queue a failed (or unsettled) message again. Suppression and consent are re-checked when it is claimed."""
    message = _message(db, message_id)
    if message.status in RESENDABLE and message.status != m.OutboxStatus.SUPPRESSED:
        before = {"status": str(message.status), "attempts": message.attempts}
        message.status = m.OutboxStatus.QUEUED
        message.attempts = 0
        message.next_attempt_at = dt.datetime.now(dt.UTC)
        message.last_error = f"resent by {user.email if user else 'admin'} (was: {message.last_error})"[:4000]
        record(
            db,
            user,
            "outbox.resend",
            "outbox_message",
            message.id,
            summary=f"Resent message {message.id} to {message.recipient}",
            changes={"status": [before["status"], "queued"], "attempts": [before["attempts"], 0]},
        )
    return Redirect(f"/admin/mail/{message_id}?resent=1", status_code=303)


# --- admin: subscribers ------------------------------------------------------------------------------------------

SUBSCRIBER_SORTS = Sorts(
    SortOption("-created", "Newest first", m.Subscription.created_at, descending=True),
    SortOption("email", "Email", m.Subscription.email),
    SortOption("name", "Name", m.Subscription.name),
)


@get("/admin/subscribers", guards=[admin_guard], sync_to_thread=False, include_in_schema=False)
def subscribers_list(request: Request[Any, Any, Any], db: DB) -> Template:
    params = ListParams.from_query(dict(request.query_params), filter_names=["status", "mailing"])
    query = select(
        m.Subscription.id,
        m.Subscription.email,
        m.Subscription.name,
        m.Subscription.organisation_name,
        m.Subscription.status,
        m.Subscription.frequency,
        m.Subscription.mailings,
        m.Subscription.confirmed_at,
        m.Subscription.created_at,
    )
    if params.q:
        needle = params.q.strip().lower()
        query = query.where(
            or_(
                m.Subscription.email.contains(needle, autoescape=True),
                func.lower(m.Subscription.name).contains(needle, autoescape=True),
                func.lower(m.Subscription.organisation_name).contains(needle, autoescape=True),
            )
        )
    status = params.filters.get("status", "")
    if status in {s.value for s in m.SubscriptionStatus}:
        query = query.where(m.Subscription.status == status)
    mailing = params.filters.get("mailing", "")
    if mailing in {x.value for x in m.Mailing}:
        query = query.where(subs.mailing_filter(mailing))
    page = keyset_page(
        db,
        query,
        sort=SUBSCRIBER_SORTS.pick(params.sort),
        id_column=m.Subscription.id,
        cursor=params.cursor,
        page_size=params.page_size,
    )
    context = {
        "page": page,
        "params": params,
        "sorts": SUBSCRIBER_SORTS,
        "statuses": [s.value for s in m.SubscriptionStatus],
        "mailing_choices": [(x.value, x.label) for x in m.Mailing],
        "labels": {x.value: x.label for x in m.Mailing},
    }
    if is_htmx(request.headers):
        return Template("admin/subscribers_results.html", context=context)
    return Template("admin/subscribers.html", context=context)


@get("/admin/subscribers/{sub_id:int}", guards=[admin_guard], sync_to_thread=False, include_in_schema=False)
def subscriber_detail(db: DB, sub_id: FromPath[int]) -> Template:
    sub = db.scalar(
        select(m.Subscription)
        .where(m.Subscription.id == sub_id)
        .options(selectinload(m.Subscription.topics), selectinload(m.Subscription.regions))
    )
    if sub is None:
        raise NotFoundException("No such subscriber.")
    consent = db.scalars(
        select(m.ConsentEntry)
        .where(or_(m.ConsentEntry.subscription_id == sub.id, m.ConsentEntry.email == sub.email))
        .order_by(m.ConsentEntry.id.desc())
    ).all()
    messages = db.execute(
        select(
            m.OutboxMessage.id,
            m.OutboxMessage.kind,
            m.OutboxMessage.subject,
            m.OutboxMessage.status,
            m.OutboxMessage.created_at,
        )
        .where(m.OutboxMessage.recipient == sub.email)
        .order_by(m.OutboxMessage.id.desc())
        .limit(20)
    ).all()
    return Template(
        "admin/subscriber_detail.html",
        context={
            "sub": sub,
            "consent": consent,
            "messages": messages,
            "suppression": suppression.active_suppression(db, sub.email),
            "labels": {x.value: x.label for x in m.Mailing},
            "consent_texts": CONSENT_TEXTS,
        },
    )


# --- admin: suppression list -------------------------------------------------------------------------------------

SUPPRESSION_REASONS = ["manual", "unsubscribed", "bounce", "complaint", "erasure"]


def _suppressions_context(db: DB, form: Form, show: str, **extra: Any) -> dict[str, Any]:
    query = select(m.Suppression).order_by(m.Suppression.id.desc()).limit(200)
    if show != "all":
        query = query.where(m.Suppression.lifted_at.is_(None))
    return {"rows": db.scalars(query).all(), "form": form, "reasons": SUPPRESSION_REASONS, "show": show, **extra}


@get("/admin/suppressions", guards=[admin_guard], sync_to_thread=False, include_in_schema=False)
def suppressions_page(db: DB, show: FromQuery[str] = "") -> Template:
    return Template("admin/suppressions.html", context=_suppressions_context(db, Form({}), show))


@post("/admin/suppressions", guards=[admin_guard], sync_to_thread=False, include_in_schema=False)
def suppressions_add(db: DB, user: CurrentUser, data: FormBody) -> Template | Redirect:
    form = Form(data)
    email = form.email("email")
    reason = form.choice("reason", set(SUPPRESSION_REASONS), required=True, label="reason")
    note = form.line("note", required=True, max_length=400, label="Reason in your words")
    if not form.ok or user is None:
        return Template("admin/suppressions.html", context=_suppressions_context(db, form, ""), status_code=400)
    added = subs.admin_add_suppression(db, user, email, reason, note)
    notice = f"{email} is now suppressed." if added else f"{email} was already suppressed."
    return Template("admin/suppressions.html", context=_suppressions_context(db, Form({}), "", notice=notice))


@post(
    "/admin/suppressions/{suppression_id:int}/lift", guards=[admin_guard], sync_to_thread=False, include_in_schema=False
)
def suppressions_lift(db: DB, user: CurrentUser, suppression_id: FromPath[int], data: FormBody) -> Template:
    form = Form(data)
    note = form.line("note", required=True, max_length=400, label="Reason for lifting")
    if not form.ok or user is None:
        return Template("admin/suppressions.html", context=_suppressions_context(db, form, ""), status_code=400)
    row = subs.admin_lift_suppression(db, user, suppression_id, note)
    if row is None:
        raise NotFoundException("No such suppression.")
    return Template(
        "admin/suppressions.html",
        context=_suppressions_context(db, Form({}), "", notice=f"The suppression of {row.address} is lifted."),
    )


route_handlers: list[Any] = [
    outbox_list,
    outbox_detail,
    outbox_html,
    outbox_resend,
    subscribers_list,
    subscriber_detail,
    suppressions_page,
    suppressions_add,
    suppressions_lift,
]
