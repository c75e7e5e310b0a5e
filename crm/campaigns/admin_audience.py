"""The segment builder: who a campaign goes to, who is left out and why, the lawful basis of each part.

GET shows the saved audience in the form, with its preview (counts per part, a sample of names, who is left out
and why); POST saves the form (refused once the campaign started sending) and comes back to the GET.
"""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from crm import models as m
from crm.campaigns import audience, audience_builder, state
from crm.campaigns.audience_segment import Segment
from crm.web.areas import admin_area
from crm.web.deps import DB, CurrentUser
from crm.web.forms import Form, FormBody
from crm.web.pages import attempt, form_page, form_page_as, get_or_404

TEMPLATE = "admin/campaign_audience.html"


def _context(db: Session, campaign: m.Campaign, segment: Segment, *, show_preview: bool) -> dict[str, Any]:
    return {
        "c": campaign,
        "segment": segment,
        "editable": state.is_editable(campaign),
        "status_label": state.LABELS[campaign.status],
        "choices": audience_builder.choices(db),
        "described": audience_builder.description(db, segment),
        "preview": audience.preview(db, segment) if show_preview and not segment.is_empty else None,
        "basis": audience.BASIS,
    }


@get("/campaigns/{campaign_id:int}/audience", sync_to_thread=False)
def campaign_audience(db: DB, campaign_id: FromPath[int], saved: FromQuery[str] = "") -> Template:
    campaign = get_or_404(db, m.Campaign, campaign_id, "No such campaign.")
    segment = Segment.from_json(campaign.audience)
    context = _context(db, campaign, segment, show_preview=True)
    context["saved"] = bool(saved)
    return form_page(TEMPLATE, context, form=Form(segment.form_values()))


@post("/campaigns/{campaign_id:int}/audience", sync_to_thread=False)
def campaign_audience_save(
    db: DB, user: CurrentUser, campaign_id: FromPath[int], data: FormBody
) -> Template | Redirect:
    campaign = get_or_404(db, m.Campaign, campaign_id, "No such campaign.")
    form = Form(data)
    saved = attempt(form, lambda: audience_builder.save(db, user, campaign, data))
    if saved is None:
        segment = Segment.from_json(campaign.audience)
        refused = 409 if "campaign" in form.errors else 422  # 409: the campaign left the states that may be edited
        return form_page_as(refused, TEMPLATE, _context(db, campaign, segment, show_preview=False), form=form)
    return Redirect(f"/admin/campaigns/{campaign.id}/audience?saved=1#preview-h", status_code=303)


route_handlers: list[Any] = admin_area("/admin", [campaign_audience, campaign_audience_save])
