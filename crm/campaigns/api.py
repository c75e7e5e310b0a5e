"""/api/v1/campaigns: list, create and update drafts, one campaign with its figures; sending needs an admin.

Editors and admins (their API keys too) read and write drafts; ``POST /{id}/send`` is for admins only (an editor
gets 403). A campaign that has started sending cannot change (409); bad fields are a 422 naming each. Figures the
transport does not report are null (``delivery_reported`` false), never zeros.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from litestar import Request, Response, get, patch, post
from litestar.exceptions import HTTPException
from litestar.params import FromPath, JSONBody

from crm import models as m
from crm.campaigns import api_drafts, campaigns, figures, sending, state
from crm.campaigns.schemas import CampaignIn, CampaignOut, CampaignPage, CampaignPatch, SendOut
from crm.errors import FieldErrors
from crm.listing import ListParams
from crm.mailing.transports import reports_delivery
from crm.web.areas import api_area
from crm.web.auth import admin_guard, editor_guard
from crm.web.deps import DB, AppSettings, CurrentUser
from crm.web.errors import unprocessable
from crm.web.pages import api_page, get_or_404

NO_CAMPAIGN = "No such campaign."


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _refused(exc: FieldErrors) -> HTTPException:
    """A campaign that may no longer change is a conflict (409); anything else names the bad fields (422)."""
    if set(exc.errors) == {"campaign"}:
        return HTTPException(status_code=409, detail=exc.errors["campaign"])
    return unprocessable(exc.errors)


@get("/", sync_to_thread=False, guards=[editor_guard], summary="List campaigns")
def api_list(request: Request[Any, Any, Any], db: DB) -> CampaignPage:
    """Newest first (``sort``=recent|oldest|subject|-subject|changed), ``q`` searches the subject and preview text,
    ``status`` (draft, scheduled, sending, sent, cancelled) filters; keyset paging: pass ``next_cursor`` back as
    ``cursor``."""
    params = ListParams.from_query(request.query_params.dict(), filter_names=campaigns.FILTERS)
    return api_page(CampaignPage, campaigns.list_campaigns(db, params), api_drafts.summary_out)


@get("/{campaign_id:int}", sync_to_thread=False, guards=[editor_guard], summary="Get one campaign with its figures")
def api_get(db: DB, settings: AppSettings, campaign_id: FromPath[int]) -> CampaignOut:
    """The campaign, its audience and what happened: queued, sent, delivered, opened, clicked (people and events),
    unsubscribed, spam reports, the first 7 days, clicks per link. See docs/campaigns.md "Figures"."""
    campaign = get_or_404(db, m.Campaign, campaign_id, NO_CAMPAIGN)
    f = figures.figures_for(db, campaign, reported=reports_delivery(settings))
    return api_drafts.campaign_out(settings, campaign, f)


@post("/", sync_to_thread=False, guards=[editor_guard], summary="Create a draft campaign")
def api_create(db: DB, settings: AppSettings, user: CurrentUser, data: JSONBody[CampaignIn]) -> Response[CampaignOut]:
    values = msgspec.structs.asdict(data)
    audience = values.pop("audience")
    try:
        campaign = api_drafts.create(db, user, values, audience, now=_now())
    except FieldErrors as exc:
        raise unprocessable(exc.errors) from exc
    return Response(api_drafts.campaign_out(settings, campaign), status_code=201)


@patch("/{campaign_id:int}", sync_to_thread=False, guards=[editor_guard], summary="Change a draft campaign")
def api_update(
    db: DB, settings: AppSettings, user: CurrentUser, campaign_id: FromPath[int], data: JSONBody[CampaignPatch]
) -> CampaignOut:
    """Absent fields keep their value; ``audience`` replaces the whole audience. Refused with 409 once the
    campaign has started sending (duplicate it in the admin to write a new one)."""
    campaign = get_or_404(db, m.Campaign, campaign_id, NO_CAMPAIGN)
    values = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    audience = values.pop("audience", None)
    try:
        api_drafts.update(db, user, campaign, values, audience, now=_now())
    except FieldErrors as exc:
        raise _refused(exc) from exc
    return api_drafts.campaign_out(settings, campaign)


@post(
    "/{campaign_id:int}/send",
    sync_to_thread=False,
    guards=[admin_guard],
    summary="Send a campaign now",
    status_code=202,
)
def api_send(db: DB, settings: AppSettings, campaign_id: FromPath[int]) -> SendOut:
    """Admins only. The audience is resolved now and recorded; a small one is queued at once, a larger one by the
    worker within a minute (``queued`` says which). A campaign already sending, sent or cancelled is a 409; no
    subject, no text or nobody in the audience is a 422."""
    campaign = get_or_404(db, m.Campaign, campaign_id, NO_CAMPAIGN)
    if campaign.status not in state.SENDABLE:
        raise HTTPException(
            status_code=409, detail=f"This campaign is {state.LABELS[campaign.status].lower()}: it cannot be sent."
        )
    try:
        result = sending.send_now(db, campaign, _now())
    except FieldErrors as exc:
        raise _refused(exc) from exc
    if not result.started:
        raise HTTPException(status_code=409, detail="This campaign has already started sending.")
    return SendOut(
        started=True,
        queued=result.queued,
        recipients=result.recipients,
        campaign=api_drafts.campaign_out(settings, campaign),
    )


route_handlers: list[Any] = api_area(
    "/api/v1/campaigns", [api_list, api_get, api_create, api_update, api_send], tag="campaigns"
)
