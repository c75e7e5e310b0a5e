"""Test, schedule, send and cancel a campaign: ``/admin/campaigns/{id}/send`` (admins).

The page shows who would get the campaign at this moment; "Send now" asks "Send to N people now?" first. Every
action is one service call (``crm.campaigns.sending``); a refusal comes back on the page beside its field.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from crm import models as m
from crm.campaigns import sending
from crm.campaigns import state as states
from crm.errors import FieldErrors
from crm.timefmt import local_input
from crm.web.areas import admin_area
from crm.web.deps import DB, CurrentUser
from crm.web.forms import Form, FormBody
from crm.web.pages import get_or_404, notice

NOTICES = {
    "tested": "A test is on its way to you. It is in the outbox now and goes out within a minute.",
    "tested-again": "A test already went to you a moment ago; wait a minute to send another.",
    "scheduled": "Scheduled. It will be sent at the time shown, to whoever is in the audience then.",
    "cancelled": "The scheduled send is cancelled. The campaign is a draft again.",
    "handed": "Sending has begun. The recipients are being added to the outbox over the next minute or two.",
    "already": "This campaign had already started sending, so nothing was sent twice.",
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _page(db: Session, campaign: m.Campaign, form: Form | None = None, message: str = "") -> Template:
    form = form or Form({"send_at": local_input(campaign.send_at)})
    preview = sending.audience_now(db, campaign) if campaign.status in states.SENDABLE else None
    context: dict[str, Any] = {
        "campaign": campaign,
        "status_label": states.LABELS[campaign.status],
        "sendable": campaign.status in states.SENDABLE,
        "cancellable": campaign.status in states.CANCELLABLE,
        "preview": preview,
        "problems": sending.content_problems(campaign),
        "form": form,
        "notice": message,
    }
    return Template("admin/campaign_send.html", context=context, status_code=422 if form.errors else 200)


def _back(campaign_id: int, done: str, **extra: Any) -> Redirect:
    query = "&".join([f"done={done}", *(f"{k}={v}" for k, v in extra.items())])
    return Redirect(f"/admin/campaigns/{campaign_id}/send?{query}", status_code=303)


def _campaign(db: Session, campaign_id: int) -> m.Campaign:
    return get_or_404(db, m.Campaign, campaign_id, "No such campaign")


@get("/{campaign_id:int}/send", sync_to_thread=False)
def send_page(db: DB, campaign_id: FromPath[int], done: FromQuery[str] = "", n: FromQuery[int] = 0) -> Template:
    campaign = _campaign(db, campaign_id)
    queued = f"Sent: {n:,} {'person is' if n == 1 else 'people are'} in the outbox; the emails go out within a minute."
    return _page(db, campaign, message=queued if done == "queued" else notice(done, NOTICES))


@post("/{campaign_id:int}/send/test", sync_to_thread=False)
def send_test(state: State, db: DB, user: CurrentUser, campaign_id: FromPath[int]) -> Template | Redirect:
    campaign = _campaign(db, campaign_id)
    try:
        new = sending.send_test(
            db, state.renderer, state.signer, campaign, email=user.email, name=user.name, now=_now()
        )
    except FieldErrors as exc:
        return _page(db, campaign, _refused(exc))
    return _back(campaign.id, "tested" if new else "tested-again")


@get("/{campaign_id:int}/send/confirm", sync_to_thread=False)
def send_confirm(db: DB, campaign_id: FromPath[int]) -> Template | Redirect:
    """The confirmation step: "Send to N people now?" (a page, so a GET changes nothing)."""
    campaign = _campaign(db, campaign_id)
    if campaign.status not in states.SENDABLE:
        return _back(campaign.id, "already")
    preview = sending.audience_now(db, campaign)
    problems = sending.content_problems(campaign)
    if problems or preview.is_empty:
        form = Form({})
        for key, text in problems.items():
            form.add_error(key, text)
        if preview.is_empty and not problems:
            form.add_error("audience", "Nobody is in this audience at the moment, so there is no one to send to.")
        return _page(db, campaign, form)
    return Template("admin/campaign_send_confirm.html", context={"campaign": campaign, "preview": preview})


@post("/{campaign_id:int}/send/now", sync_to_thread=False)
def send_now(db: DB, campaign_id: FromPath[int]) -> Template | Redirect:
    campaign = _campaign(db, campaign_id)
    try:
        result = sending.send_now(db, campaign, _now())
    except FieldErrors as exc:
        return _page(db, campaign, _refused(exc))
    if not result.started:
        return _back(campaign.id, "already")
    if result.queued:
        return _back(campaign.id, "queued", n=result.recipients)
    return _back(campaign.id, "handed")


@post("/{campaign_id:int}/send/schedule", sync_to_thread=False)
def send_schedule(db: DB, campaign_id: FromPath[int], data: FormBody) -> Template | Redirect:
    campaign = _campaign(db, campaign_id)
    form = Form(data)
    try:
        sending.schedule(db, campaign, str(data.get("send_at") or ""), _now())
    except FieldErrors as exc:
        return _page(db, campaign, _refused(exc, form))
    return _back(campaign.id, "scheduled")


@post("/{campaign_id:int}/send/cancel", sync_to_thread=False)
def send_cancel(db: DB, campaign_id: FromPath[int]) -> Template | Redirect:
    campaign = _campaign(db, campaign_id)
    try:
        sending.cancel(db, campaign, _now())
    except FieldErrors as exc:
        return _page(db, campaign, _refused(exc))
    return _back(campaign.id, "cancelled")


def _refused(exc: FieldErrors, form: Form | None = None) -> Form:
    form = form or Form({})
    for key, message in exc.errors.items():
        form.add_error(key, message)
    return form


route_handlers: list[Any] = admin_area(
    "/admin/campaigns", [send_page, send_test, send_confirm, send_now, send_schedule, send_cancel]
)
