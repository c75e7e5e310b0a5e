"""The fellow's mail pages: the outbox (with resend and the framed HTML preview), subscribers with their consent
history, and the suppression list."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from crm import models as m
from crm.bulk import actions as bulk
from crm.bulk import kinds as bulk_kinds
from crm.listing import ListParams
from crm.mailing import outbox, prune, queries, suppression
from crm.mailing import subscriptions as subs
from crm.mailing.consent import CONSENT_TEXTS
from crm.plainwords import plain
from crm.views_saved import saved
from crm.web.auth import admin_guard
from crm.web.deps import DB, AppSettings, CurrentUser
from crm.web.forms import Form, FormBody
from crm.web.pages import form_page_as, get_or_404, is_htmx, list_page, or_404
from crm.web.pages import notice as notice_text
from crm.web.security import framed_email
from crm.web.templating import TEMPLATE_DIR

# Every kind of email is one template; the outbox filter offers them all (a DISTINCT over the outbox would read it
# whole on every visit).
EMAIL_KINDS = sorted(p.name.removesuffix(".subject.txt") for p in (TEMPLATE_DIR / "email").glob("*.subject.txt"))

# --- admin: outbox ----------------------------------------------------------------------------------------------


@get("/admin/mail", guards=[admin_guard], sync_to_thread=False, include_in_schema=False)
def outbox_list(
    db: DB,
    status: FromQuery[str] = "",
    q: FromQuery[str] = "",
    kind: FromQuery[str] = "",
    before: FromQuery[int | None] = None,
) -> Template:
    rows, next_before = queries.outbox_page(db, status=status, q=q, before=before, kind=kind)
    return Template(
        "admin/mail_list.html",
        context={
            "rows": rows,
            "status": status,
            "q": q,
            "statuses": {s.value: plain(s) for s in m.OutboxStatus},
            "kind": kind,
            "kinds": {k: plain(k) for k in EMAIL_KINDS},
            "next_before": next_before,
        },
    )


OUTBOX_NOTICES = {
    "resent": "The message is queued again.",
    "not-resent": "Nothing was queued: only a failed, unsettled or cancelled message can be sent again, and this one "
    "is not (its status is below).",
}
NO_MESSAGE = "No such message."


@get("/admin/mail/{message_id:int}", guards=[admin_guard], sync_to_thread=False, include_in_schema=False)
def outbox_detail(
    db: DB,
    settings: AppSettings,
    message_id: FromPath[int],
    notice: FromQuery[str] = "",
    resent: FromQuery[str] = "",
) -> Template:
    message = get_or_404(db, m.OutboxMessage, message_id, NO_MESSAGE)
    events = queries.delivery_events(db, message_id)
    parts = message.parts
    return Template(
        "admin/mail_detail.html",
        context={
            "message": message,
            "parts": parts,
            # Its full text was dropped after CRM_MAIL_DETAIL_DAYS (crm.mailing.prune): say so, not "(no text part)".
            "pruned_note": prune.pruned_note(settings.mail_detail_days)
            if prune.is_pruned(parts, message.context, message.status)
            else "",
            "events": events,
            "can_resend": outbox.can_resend(message),
            # ``?resent=1`` is how the resend linked here before ``?notice=resent``; old links still show it.
            "notice": notice_text("resent" if resent else notice, OUTBOX_NOTICES),
        },
    )


@get("/admin/mail/{message_id:int}/html", guards=[admin_guard], sync_to_thread=False, include_in_schema=False)
def outbox_html(db: DB, message_id: FromPath[int]) -> Response[Any]:
    """The rendered HTML, framed by the detail page, with a CSP that allows only inline styles and no scripts."""
    message = get_or_404(db, m.OutboxMessage, message_id, NO_MESSAGE)
    return framed_email(message.parts.html or "<p>(no HTML part)</p>")


@post("/admin/mail/{message_id:int}/resend", guards=[admin_guard], sync_to_thread=False, include_in_schema=False)
def outbox_resend(db: DB, user: CurrentUser, message_id: FromPath[int]) -> Redirect:
    """Queue a failed (or unsettled) message again. Suppression and consent are re-checked when it is claimed. A
    message that may not be resent (already queued or sent: a second tab, or the worker got there first) says so;
    it said "queued again" whatever happened."""
    resent = outbox.resend(db, user, get_or_404(db, m.OutboxMessage, message_id, NO_MESSAGE))
    return Redirect(f"/admin/mail/{message_id}?notice={'resent' if resent else 'not-resent'}", status_code=303)


# --- admin: subscribers ------------------------------------------------------------------------------------------


@get("/admin/subscribers", guards=[admin_guard], sync_to_thread=False, include_in_schema=False)
def subscribers_list(request: Request[Any, Any, Any], db: DB, user: CurrentUser) -> Template:
    params = ListParams.from_query(dict(request.query_params), filter_names=list(queries.SUBSCRIBER_FILTERS))
    page = queries.subscribers_page(db, params, count=True)
    context = {
        "page": page,
        "params": params,
        "sorts": queries.SUBSCRIBER_SORTS,
        "statuses": [s.value for s in m.SubscriptionStatus],
        "mailing_choices": [(x.value, x.label) for x in m.Mailing],
        "labels": {x.value: x.label for x in m.Mailing},
        "bulk_actions": bulk.offered(bulk_kinds.SUBSCRIBERS, user),
    }
    return list_page(
        request,
        "admin/subscribers.html",
        "admin/subscribers_results.html",
        context,
        page_only=lambda: {"my_views": saved.views_for(db, user, "subscribers"), "bulk_topics": bulk.topic_choices(db)},
    )


@get("/admin/subscribers/{sub_id:int}", guards=[admin_guard], sync_to_thread=False, include_in_schema=False)
def subscriber_detail(db: DB, sub_id: FromPath[int]) -> Template:
    record = or_404(queries.subscriber_record(db, sub_id), "No such subscriber.")
    return Template(
        "admin/subscriber_detail.html",
        context={
            "sub": record.sub,
            "consent": record.consent,
            "messages": record.messages,
            "suppression": record.suppression,
            "labels": {x.value: x.label for x in m.Mailing},
            "consent_texts": CONSENT_TEXTS,
            # The consent log keeps the topics and regions chosen as slugs; the page names them.
            "names": queries.topic_and_region_names(db),
        },
    )


# --- admin: suppression list -------------------------------------------------------------------------------------

SUPPRESSION_REASONS = ["manual", "unsubscribed", "bounce", "complaint", "erasure"]


def _list_params(request: Request[Any, Any, Any]) -> ListParams:
    """The list's search, filter, sort and page, from the page's query string; the lift form posts with the same
    query, so the answer shows the page the row was lifted from (and a refused lift shows its message on that row,
    which the list's first page may not hold)."""
    return ListParams.from_query(dict(request.query_params), filter_names=list(suppression.LIST_FILTERS))


def _suppressions_page(
    request: Request[Any, Any, Any], db: DB, form: Form, params: ListParams, notice: str = ""
) -> Template:
    """The list with its add form: 400 when the form comes back with messages (as it always has), else 200. A
    search, filter or page change from the filter bar (htmx) gets the results alone."""
    db.flush()  # the list shows what this request added or lifted (sessions do not autoflush)
    context = {
        "page": suppression.list_page(db, params),
        "params": params,
        "sorts": suppression.LIST_SORTS,
        "reasons": SUPPRESSION_REASONS,
        "show": params.filters.get("show", ""),
        "notice": notice,
        "form": form,
    }
    if is_htmx(request.headers) and not form.errors and not notice:
        return Template("admin/suppressions_results.html", context=context)
    return form_page_as(400, "admin/suppressions.html", context, form=form)


@get("/admin/suppressions", guards=[admin_guard], sync_to_thread=False, include_in_schema=False)
def suppressions_page(request: Request[Any, Any, Any], db: DB) -> Template:
    return _suppressions_page(request, db, Form({}), _list_params(request))


@post("/admin/suppressions", guards=[admin_guard], sync_to_thread=False, include_in_schema=False)
def suppressions_add(request: Request[Any, Any, Any], db: DB, user: CurrentUser, data: FormBody) -> Template:
    form = Form(data)
    email = form.email("email")
    reason = form.choice("reason", set(SUPPRESSION_REASONS), required=True, label="reason")
    note = form.line("note", required=True, max_length=400, label="Reason in your words")
    if not form.ok or user is None:
        return _suppressions_page(request, db, form, ListParams())
    added = subs.admin_add_suppression(db, user, email, reason, note)
    notice = f"{email} is now suppressed." if added else f"{email} was already suppressed."
    return _suppressions_page(request, db, Form({}), ListParams(), notice=notice)


@post(
    "/admin/suppressions/{suppression_id:int}/lift", guards=[admin_guard], sync_to_thread=False, include_in_schema=False
)
def suppressions_lift(
    request: Request[Any, Any, Any], db: DB, user: CurrentUser, suppression_id: FromPath[int], data: FormBody
) -> Template:
    form = Form(data)
    note = form.line("note", required=True, max_length=400, label="Reason for lifting")
    params = _list_params(request)
    if not form.ok or user is None:
        # The message belongs to this row's own field (``f-lift-<id>``): under the name "note" it was shown against
        # the add form's "Reason in your words" and the row being lifted said nothing.
        refused = Form({})
        refused.add_error(f"lift-{suppression_id}", form.errors.get("note", "Give a reason for lifting."))
        return _suppressions_page(request, db, refused, params)
    row = or_404(subs.admin_lift_suppression(db, user, suppression_id, note), "No such suppression.")
    return _suppressions_page(request, db, Form({}), params, notice=f"The suppression of {row.address} is lifted.")


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
