"""Routes of the mailing domain: subscribe, confirm, preferences, one-click unsubscribe, the SendGrid webhook,
and the admin views (outbox, subscribers with consent history, suppression list).

GET never changes anything (mail scanners prefetch links); every change is a POST. The RFC 8058 one-click
POST ``/u/{token}`` needs no cookie or CSRF token and answers 200 without a redirect.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response, get, head, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, RawBody
from litestar.response import Redirect, Template
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from crm import models as m
from crm.audit import record
from crm.internships.alerts import internship_filters_from_form, stored_filters
from crm.mailing import compliance, webhooks
from crm.mailing import subscriptions as subs
from crm.tokens import TokenError
from crm.web.auth import admin_guard
from crm.web.deps import DB, CurrentUser, client_ip
from crm.web.forms import Form, FormBody
from crm.web.listing import ListParams, SortOption, Sorts, is_htmx, keyset_page

SUBSCRIBE_PER_IP_PER_HOUR = 20
SUBSCRIBE_PER_EMAIL_PER_HOUR = 5
CONFIRM_PER_IP_PER_HOUR = 60
OUTBOX_PAGE = 50


def _how(request: Request[Any, Any, Any], mechanism: str) -> subs.How:
    return subs.How(
        mechanism=mechanism,
        source_url=str(request.url.path),
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
    )


def _reference(db: DB) -> dict[str, Any]:
    return {
        "topics": db.execute(select(m.Topic.id, m.Topic.name).order_by(m.Topic.name)).all(),
        "regions": db.execute(select(m.Region.id, m.Region.name).order_by(m.Region.position)).all(),
        "funders": db.execute(
            select(m.Organisation.id, m.Organisation.name)
            .where(
                m.Organisation.kind == m.OrgKind.FUNDER,
                m.Organisation.review_status == m.ReviewStatus.APPROVED,
                m.Organisation.visibility == m.Visibility.PUBLIC,
            )
            .order_by(m.Organisation.name)
        ).all(),
        "mailing_choices": [(x.value, x.label) for x in m.Mailing],
        "frequencies": [(f.value, f.value.capitalize()) for f in m.Frequency],
    }


def _choices(form: Form, *, require_mailing: bool = True) -> subs.Choices:
    mailings = form.getlist("mailings")
    valid = {x.value for x in m.Mailing}
    if any(x not in valid for x in mailings):
        form.add_error("mailings", "Choose from the mailings listed.")
    if require_mailing and not mailings:
        form.add_error("mailings", "Choose at least one mailing.")

    def ids(name: str) -> list[int]:
        out = []
        for raw in form.getlist(name):
            try:
                out.append(int(raw))
            except ValueError:
                form.add_error(name, "Choose from the options listed.")
        return out

    frequency = form.choice("frequency", {f.value for f in m.Frequency}, label="frequency") or "weekly"
    mailing_filters: dict[str, Any] = {}
    if m.Mailing.INTERNSHIP_ALERTS.value in mailings:
        mailing_filters[m.Mailing.INTERNSHIP_ALERTS.value] = internship_filters_from_form(form)
    return subs.Choices(
        mailing_filters=mailing_filters,
        mailings=mailings,
        topic_ids=ids("topics"),
        region_ids=ids("regions"),
        frequency=frequency,
        only_vcse_partner_calls=form.bool("only_vcse_partner_calls"),
        funder_ids=ids("funders"),
    )


def _subscribe_context(db: DB, form: Form, **extra: Any) -> dict[str, Any]:
    return {
        **_reference(db),
        "form": form,
        "consent_version": subs.CONSENT_VERSION,
        "consent_text": subs.CONSENT_TEXTS[subs.CONSENT_VERSION],
        "selected": {
            "mailings": set(form.getlist("mailings")),
            "topics": set(form.getlist("topics")),
            "regions": set(form.getlist("regions")),
            "funders": set(form.getlist("funders")),
            "frequency": form.data.get("frequency", "weekly"),
        },
        **extra,
    }


# --- public: subscribe and confirm -----------------------------------------------------------------------------


@get("/subscribe", sync_to_thread=False)
def subscribe_page(request: Request[Any, Any, Any], db: DB) -> Template:
    """Pre-filled from the query string when a page links here (e.g. "Get alerts for this search")."""
    multi = {"mailings", "topics", "regions", "funders", "mode"}
    prefill = {
        k: (v if k in multi else v[-1]) for k, v in request.query_params.dict().items() if k in PREFILL_FIELDS and v
    }
    form = Form(prefill or {"mailings": [m.Mailing.FUNDING_DIGEST.value]})
    return Template("public/subscribe.html", context=_subscribe_context(db, form))


@post("/subscribe", sync_to_thread=False)
def subscribe_submit(request: Request[Any, Any, Any], state: State, db: DB, data: FormBody) -> Template:
    form = Form(data)
    email = form.email("email")
    if form.ok and subs.looks_disposable(email):
        form.add_error("email", "This looks like a temporary inbox. Please use an address you will keep reading.")
    name = form.line("name", max_length=200)
    organisation = form.line("organisation", max_length=300)
    choices = _choices(form)
    version = form.str("consent_version", max_length=40)
    if not form.bool("consent"):
        form.add_error("consent", "Tick the box to say you agree to receive these emails.")
    if version not in subs.CONSENT_TEXTS:
        form.add_error("consent", "The consent statement has changed. Please read it again and tick the box.")
    if not form.ok:
        return Template("public/subscribe.html", context=_subscribe_context(db, form), status_code=400)
    limiter = state.rate_limiter
    ip = client_ip(request)
    if not (
        limiter.allow(f"subscribe:ip:{ip}", SUBSCRIBE_PER_IP_PER_HOUR, 3600)
        and limiter.allow(f"subscribe:email:{email}", SUBSCRIBE_PER_EMAIL_PER_HOUR, 3600)
    ):
        return Template(
            "public/subscribe.html",
            context=_subscribe_context(db, form, limited=True),
            status_code=429,
            headers={"Retry-After": "3600"},
        )
    result = subs.subscribe(
        db,
        state.renderer,
        state.signer,
        email=email,
        name=name,
        organisation_name=organisation,
        choices=choices,
        consent_version=version,
        how=_how(request, "web form"),
    )
    if result == subs.SubscribeResult.REFUSED:
        return Template("public/subscribe_refused.html", context={}, status_code=200)
    # The same page whether the address is new, pending or already subscribed (no enumeration).
    return Template("public/subscribe_check_email.html", context={"email": email})


def _confirm_problem(message: str, status: int = 400) -> Template:
    return Template("public/confirm_problem.html", context={"message": message}, status_code=status)


@get("/subscribe/confirm/{token:str}", sync_to_thread=False)
def confirm_page(state: State, db: DB, token: FromPath[str]) -> Template:
    try:
        sub = subs.peek_confirmation(db, state.signer, token)
    except TokenError as exc:
        return _confirm_problem(str(exc))
    return Template(
        "public/confirm.html", context={"token": token, "already": sub.status == m.SubscriptionStatus.ACTIVE}
    )


@post("/subscribe/confirm/{token:str}", sync_to_thread=False)
def confirm_submit(request: Request[Any, Any, Any], state: State, db: DB, token: FromPath[str]) -> Template:
    if not state.rate_limiter.allow(f"confirm:ip:{client_ip(request)}", CONFIRM_PER_IP_PER_HOUR, 3600):
        return _confirm_problem("Too many attempts from your network. Please wait an hour and try again.", 429)
    try:
        sub = subs.confirm(db, state.signer, token, _how(request, "confirmation link"))
    except TokenError as exc:
        return _confirm_problem(str(exc))
    prefs = compliance.preferences_url(state.signer, state.settings, sub.email)
    return Template("public/confirm_done.html", context={"preferences_url": prefs})


# --- public: preference centre ----------------------------------------------------------------------------------


def _link_problem(message: str) -> Template:
    return Template("public/preferences_problem.html", context={"message": message}, status_code=400)


def _preferences_context(db: DB, sub: m.Subscription, token: str, form: Form, **extra: Any) -> dict[str, Any]:
    return {
        **_reference(db),
        "sub": sub,
        "token": token,
        "form": form,
        "selected": {
            "mailings": set(form.getlist("mailings")),
            "topics": set(form.getlist("topics")),
            "regions": set(form.getlist("regions")),
            "funders": set(form.getlist("funders")),
            "frequency": form.data.get("frequency", "weekly"),
        },
        **extra,
    }


PREFILL_FIELDS = {
    "mailings",
    "topics",
    "regions",
    "funders",
    "frequency",
    "direction",
    "mode",
    "paid",
    "hours",
    "stage",
}


def _form_from(sub: m.Subscription) -> Form:
    alerts = stored_filters(sub.filters)
    return Form(
        {
            "direction": alerts.get("direction", ""),
            "mode": list(alerts.get("modes", [])),
            "paid": alerts.get("paid", ""),
            "hours": str(alerts.get("max_hours") or ""),
            "stage": alerts.get("stage", ""),
            "mailings": list(sub.mailings or []),
            "topics": [str(t.id) for t in sub.topics],
            "regions": [str(r.id) for r in sub.regions],
            "frequency": str(sub.frequency),
            "only_vcse_partner_calls": "on" if sub.only_vcse_partner_calls else "",
            "funders": [str(i) for i in sub.funder_ids or []],
        }
    )


@get("/preferences/{token:str}", sync_to_thread=False)
def preferences_page(state: State, db: DB, token: FromPath[str]) -> Template:
    try:
        email = subs.email_from_preferences_token(state.signer, token)
    except TokenError as exc:
        return _link_problem(str(exc))
    sub = subs.by_email(db, email, load=True)
    if sub is None:
        return Template("public/preferences_none.html", context={})
    return Template("public/preferences.html", context=_preferences_context(db, sub, token, _form_from(sub)))


@post("/preferences/{token:str}", sync_to_thread=False)
def preferences_submit(
    request: Request[Any, Any, Any], state: State, db: DB, token: FromPath[str], data: FormBody
) -> Template:
    try:
        email = subs.email_from_preferences_token(state.signer, token)
    except TokenError as exc:
        return _link_problem(str(exc))
    sub = subs.by_email(db, email, load=True)
    if sub is None:
        return Template("public/preferences_none.html", context={})
    form = Form(data)
    action = form.choice("action", {"save", "pause", "resume", "unsubscribe_all"}) or "save"
    how = _how(request, "preference centre")
    if action == "unsubscribe_all":
        subs.unsubscribe(db, email, None, how)
        return Template("public/unsubscribe_done.html", context={"mailing_label": "", "resubscribe": True})
    if action in {"pause", "resume"}:
        changed = subs.set_paused(db, sub, action == "pause", how)
        notice = {
            True: "Your emails are paused." if action == "pause" else "Your emails have restarted.",
            False: "Nothing changed.",
        }[changed]
        return Template(
            "public/preferences.html", context=_preferences_context(db, sub, token, _form_from(sub), notice=notice)
        )
    if sub.status not in {m.SubscriptionStatus.ACTIVE, m.SubscriptionStatus.PAUSED}:
        form.add_error("mailings", "This subscription is not active. Use the subscribe page to start again.")
    choices = _choices(form, require_mailing=False)
    if not form.ok:
        return Template("public/preferences.html", context=_preferences_context(db, sub, token, form), status_code=400)
    changed = subs.update_preferences(db, sub, choices, how)
    if sub.status == m.SubscriptionStatus.UNSUBSCRIBED:
        return Template("public/unsubscribe_done.html", context={"mailing_label": "", "resubscribe": True})
    notice = "Your choices are saved." if changed else "Nothing changed."
    return Template(
        "public/preferences.html", context=_preferences_context(db, sub, token, _form_from(sub), notice=notice)
    )


# --- public: unsubscribe (RFC 8058 one-click and the visible link) ---------------------------------------------


def _unsubscribe_target(state: State, token: str) -> tuple[str, str | None]:
    return compliance.unsubscribe_payload(state.signer, token)


def _mailing_label(mailing: str | None) -> str:
    if mailing is None:
        return ""
    try:
        return m.Mailing(mailing).label
    except ValueError:
        return mailing


@get("/u/{token:str}", sync_to_thread=False)
def unsubscribe_page(state: State, token: FromPath[str]) -> Template:
    """Shows a confirm button and changes nothing (link scanners prefetch)."""
    try:
        _, mailing = _unsubscribe_target(state, token)
    except TokenError as exc:
        return Template("public/unsubscribe_problem.html", context={"message": str(exc)}, status_code=400)
    return Template("public/unsubscribe.html", context={"token": token, "mailing_label": _mailing_label(mailing)})


@head("/u/{token:str}", sync_to_thread=False)
def unsubscribe_head(token: FromPath[str]) -> Response[None]:
    return Response(content=None, status_code=200, media_type="text/html")


@post("/u/{token:str}", sync_to_thread=False, exclude_from_csrf=True, status_code=200)
def unsubscribe_submit(request: Request[Any, Any, Any], state: State, db: DB, token: FromPath[str]) -> Template:
    """RFC 8058 one-click (body ``List-Unsubscribe=One-Click``, no cookies) and the page's button: 200, no redirect."""
    try:
        email, mailing = _unsubscribe_target(state, token)
    except TokenError as exc:
        return Template("public/unsubscribe_problem.html", context={"message": str(exc)}, status_code=400)
    content_type = request.headers.get("content-type", "")
    mechanism = "one-click header" if request.headers.get("cookie") is None and content_type else "unsubscribe page"
    result = subs.unsubscribe(db, email, mailing, _how(request, mechanism))
    return Template(
        "public/unsubscribe_done.html",
        context={
            "mailing_label": _mailing_label(mailing),
            "unknown": result == subs.UnsubscribeResult.UNKNOWN,
            "resubscribe": True,
        },
    )


# --- SendGrid Event Webhook ---------------------------------------------------------------------------------------


@post("/webhooks/sendgrid", sync_to_thread=False, status_code=200)
def sendgrid_webhook(request: Request[Any, Any, Any], state: State, db: DB, body: RawBody) -> Response[Any]:
    """Verify the ECDSA signature over timestamp + raw body; 403 for any signature problem, 400 for non-JSON."""
    try:
        webhooks.verify_signature(
            state.settings.sendgrid_webhook_public_key,
            request.headers.get(webhooks.SIGNATURE_HEADER, ""),
            request.headers.get(webhooks.TIMESTAMP_HEADER, ""),
            body,
            dt.datetime.now(dt.UTC),
        )
    except webhooks.WebhookRejected as exc:
        return Response({"detail": f"forbidden: {exc}"}, status_code=403)
    try:
        events = webhooks.parse_events(body)
    except (ValueError, UnicodeDecodeError):
        return Response({"detail": "the body must be a JSON array of events"}, status_code=400)
    new = webhooks.process_events(db, events)
    return Response({"received": len(events), "new": new}, status_code=200)


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
            "suppression": subs.active_suppression(db, sub.email),
            "labels": {x.value: x.label for x in m.Mailing},
            "consent_texts": subs.CONSENT_TEXTS,
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
    subscribe_page,
    subscribe_submit,
    confirm_page,
    confirm_submit,
    preferences_page,
    preferences_submit,
    unsubscribe_page,
    unsubscribe_head,
    unsubscribe_submit,
    sendgrid_webhook,
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
