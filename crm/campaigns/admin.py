"""The fellow's campaign pages: list, write (Markdown with a live preview), duplicate, history.

/admin/campaigns                 the list (search, status, sortable headers, pages)
/admin/campaigns/new             a new draft
/admin/campaigns/{id}            the campaign: details, the email as saved, next steps, history
/admin/campaigns/{id}/edit       change a draft (or a scheduled campaign); refused once sending has started
/admin/campaigns/{id}/duplicate  POST: a new draft "Copy of …"
/admin/campaigns/preview         POST the form: htmx gets the preview fragment, a plain POST the form page with it
/admin/campaigns/preview/frame/{token}  the preview's HTML for the sandboxed frame (signed values, no state; a
                                 POST to /admin/campaigns/preview/frame for a body too long for a URL)
/admin/campaigns/{id}/email      the saved campaign's HTML for the sandboxed frame

Audience, sending and the report are other modules' pages under the same path; this one only links to them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from crm import models as m
from crm.campaigns import campaigns as service
from crm.campaigns import preview as previews
from crm.campaigns import state as states
from crm.errors import FieldErrors
from crm.history import history
from crm.listing import ListParams
from crm.mailing.render import RenderedEmail
from crm.web.areas import admin_area
from crm.web.deps import DB, CurrentUser
from crm.web.forms import Form, FormBody
from crm.web.pages import attempt, form_page, get_or_404, is_htmx, list_page
from crm.web.pages import notice as notice_text
from crm.web.security import framed_email

BASE = "/admin/campaigns"
FRAME_PATH = f"{BASE}/preview/frame"
EXPIRED = (
    '<!doctype html><html lang="en-GB"><head><meta charset="utf-8"><title>Preview expired</title></head>'
    "<body><p>This preview has expired. Press “Preview” again.</p></body></html>"
)
NOTICES = {
    "saved": "Draft saved.",
    "created": "Draft saved. Choose its audience next, or keep writing.",
    "duplicated": "This is a new draft, copied from the campaign you duplicated. Change what you need and save.",
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _name(user: Any) -> str:
    return (getattr(user, "name", "") or "").strip()


def _common() -> dict[str, Any]:
    return {"status_labels": states.LABELS, "audience_size": service.audience_size, "is_editable": states.is_editable}


@get("/", sync_to_thread=False)
def campaigns_list(request: Request[Any, Any, Any], db: DB) -> Template:
    params = ListParams.from_query(request.query_params.dict(), filter_names=service.FILTERS)
    page = service.list_campaigns(db, params, count=True)
    context = {
        **_common(),
        "page": page,
        "params": params,
        "sorts": page.sorts,
        "statuses": [(s.value, label) for s, label in states.LABELS.items()],
    }
    return list_page(request, "admin/campaigns.html", "admin/campaigns_results.html", context)


def _form_page(
    form: Form,
    *,
    campaign: m.Campaign | None,
    preview: previews.Preview | None = None,
    notice: str = "",
) -> Template:
    """The writing form: 200, or 422 when it comes back with messages (a preview is never a refusal)."""
    context = {**_common(), "c": campaign, "preview": preview, "max": _limits(), "notice": notice}
    return form_page("admin/campaign_form.html", context, form=form)


def _limits() -> dict[str, int]:
    return {
        "subject": service.SUBJECT_MAX,
        "preheader": service.PREHEADER_MAX,
        "cta_label": service.CTA_LABEL_MAX,
        "cta_url": service.CTA_URL_MAX,
        "sender_name": service.SENDER_MAX,
    }


def _detail_page(
    db: Session,
    state: State,
    user: Any,
    campaign: m.Campaign,
    *,
    notice: str = "",
    error: str = "",
    status_code: int = 200,
) -> Template:
    original = db.get(m.Campaign, campaign.duplicated_from_id) if campaign.duplicated_from_id else None
    return Template(
        "admin/campaign.html",
        context={
            **_common(),
            "c": campaign,
            "original": original,
            "text": _saved_email(state, campaign, user).text,
            "history": history(db, service.ENTITY, campaign.id),
            "notice": notice,
            "error": error,
        },
        status_code=status_code,
    )


def _saved_email(state: State, campaign: m.Campaign, user: Any) -> RenderedEmail:
    """The campaign as saved, as a recipient would get it (sample values for the per-recipient parts)."""
    return previews.render(state.renderer, service.CampaignData.of(campaign), name=_name(user))


def _after_save(data: dict[str, Any], campaign: m.Campaign, notice: str) -> Redirect:
    """To the campaign's page, or back to the form with "Save and keep writing" (the draft saved on each press)."""
    if data.get("then") == "edit":
        return Redirect(f"{BASE}/{campaign.id}/edit?notice=saved", status_code=303)
    return Redirect(f"{BASE}/{campaign.id}?notice={notice}", status_code=303)


@get("/new", sync_to_thread=False)
def campaign_new(user: CurrentUser) -> Template:
    return _form_page(Form({"sender_name": _name(user)}), campaign=None)


@post("/new", sync_to_thread=False)
def campaign_create(db: DB, user: CurrentUser, data: FormBody) -> Template | Redirect:
    form = Form(data)
    created = attempt(form, lambda: service.create_draft(db, user, service.validate(data), now=_now()))
    if created is None:
        return _form_page(form, campaign=None)
    return _after_save(data, created, "created")


@get("/{campaign_id:int}", sync_to_thread=False)
def campaign_detail(
    db: DB, state: State, user: CurrentUser, campaign_id: FromPath[int], notice: FromQuery[str] = ""
) -> Template:
    campaign = get_or_404(db, m.Campaign, campaign_id, "No campaign with this id.")
    return _detail_page(db, state, user, campaign, notice=notice_text(notice, NOTICES))


@get("/{campaign_id:int}/email", sync_to_thread=False)
def campaign_email(db: DB, state: State, user: CurrentUser, campaign_id: FromPath[int]) -> Response[Any]:
    campaign = get_or_404(db, m.Campaign, campaign_id, "No campaign with this id.")
    return framed_email(_saved_email(state, campaign, user).html)


def _refused(db: Session, state: State, user: Any, campaign: m.Campaign) -> Template:
    """The campaign's page saying why it can no longer change (409), instead of a form that could not be saved."""
    try:
        states.ensure_editable(campaign)
    except FieldErrors as exc:
        return _detail_page(db, state, user, campaign, error=exc.errors.get("campaign", ""), status_code=409)
    raise AssertionError("only called for a campaign that cannot change")


@get("/{campaign_id:int}/edit", sync_to_thread=False)
def campaign_edit(
    db: DB, state: State, user: CurrentUser, campaign_id: FromPath[int], notice: FromQuery[str] = ""
) -> Template:
    campaign = get_or_404(db, m.Campaign, campaign_id, "No campaign with this id.")
    if not states.is_editable(campaign):
        return _refused(db, state, user, campaign)
    form = Form(service.CampaignData.of(campaign).form_values())
    return _form_page(form, campaign=campaign, notice=notice_text(notice, NOTICES))


@post("/{campaign_id:int}/edit", sync_to_thread=False)
def campaign_update(
    db: DB, state: State, user: CurrentUser, campaign_id: FromPath[int], data: FormBody
) -> Template | Redirect:
    campaign = get_or_404(db, m.Campaign, campaign_id, "No campaign with this id.")
    form = Form(data)
    changed = attempt(form, lambda: service.update_draft(db, user, campaign, service.validate(data), now=_now()))
    if changed is None:
        if "campaign" in form.errors:  # sending started since the form was opened
            return _refused(db, state, user, campaign)
        return _form_page(form, campaign=campaign)
    return _after_save(data, campaign, "saved")


@post("/{campaign_id:int}/duplicate", sync_to_thread=False)
def campaign_duplicate(db: DB, user: CurrentUser, campaign_id: FromPath[int]) -> Redirect:
    campaign = get_or_404(db, m.Campaign, campaign_id, "No campaign with this id.")
    copy = service.duplicate(db, user, campaign, now=_now())
    return Redirect(f"{BASE}/{copy.id}/edit?notice=duplicated", status_code=303)


@post("/preview", sync_to_thread=False, status_code=200)
def campaign_preview(
    request: Request[Any, Any, Any], db: DB, state: State, user: CurrentUser, data: FormBody
) -> Template:
    """The email from what is on the form, without saving: the fragment for htmx, else the form page with it."""
    result = previews.preview(state.renderer, data, name=_name(user), frame_path=FRAME_PATH)
    if is_htmx(request.headers):
        return Template("admin/campaign_preview.html", context={"preview": result})
    campaign = None
    raw_id = str(data.get("campaign_id", "")).strip()
    if raw_id.isdigit():
        campaign = get_or_404(db, m.Campaign, int(raw_id), "No campaign with this id.")
    form = Form(data)
    return _form_page(form, campaign=campaign, preview=result)


@get("/preview/frame/{token:str}", sync_to_thread=False)
def campaign_preview_frame(state: State, token: FromPath[str]) -> Response[Any]:
    """The frame's HTML from the values its URL carries (signed, an hour): a path, not a query, so the route table's
    page sweep (tests/browser) does not take this frame for a page."""
    found = previews.from_token(state.settings, token[:20_000])
    if found is None:
        return framed_email(EXPIRED)
    data, name = found
    return framed_email(previews.render(state.renderer, data, name=name).html)


@post("/preview/frame", sync_to_thread=False, status_code=200)
def campaign_preview_frame_posted(state: State, user: CurrentUser, data: FormBody) -> Response[Any]:
    """The frame's HTML for a body too long to carry in a URL: the preview's form posts the values into it."""
    return framed_email(previews.render(state.renderer, previews.read(data)[0], name=_name(user)).html)


route_handlers: list[Any] = admin_area(
    BASE,
    [
        campaigns_list,
        campaign_new,
        campaign_create,
        campaign_detail,
        campaign_email,
        campaign_edit,
        campaign_update,
        campaign_duplicate,
        campaign_preview,
        campaign_preview_frame,
        campaign_preview_frame_posted,
    ],
)
