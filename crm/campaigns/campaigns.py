"""Writing campaigns: drafts (create, update, duplicate), the fellow's list, and the history of each change.

Used by the fellow's pages (``crm.campaigns.admin``) and the API (``crm.campaigns.api``) alike, so a rule lives here
once: ``validate`` turns submitted values (a web form, or a JSON body in the same shape) into ``CampaignData`` or
refuses them field by field with ``FieldErrors``; ``create_draft`` and ``update_draft`` store them and write the
audit entry with each field's old and new value (``crm.history`` reads it in plain words). Whether a campaign may
still change is ``crm.campaigns.state``'s to say, never decided here. Services never commit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.accounts.principal import Principal
from crm.campaigns import state
from crm.campaigns.markdown import link_allowed, problems
from crm.errors import FieldErrors, NotFound
from crm.listing import ListParams, Page, SortOption, Sorts, fetch_page
from crm.validation import Form, split_url

C = m.Campaign
ENTITY = "campaign"
SUBJECT_MAX = 200
PREHEADER_MAX = 200
CTA_LABEL_MAX = 80
CTA_URL_MAX = 500
SENDER_MAX = 120
BODY_MAX = 100_000  # about 15,000 words: far beyond any announcement, short of a pasted book
COPY_PREFIX = "Copy of "
FLAGS = ("track_opens", "track_clicks", "publish_as_news")
FIELDS = ("subject", "preheader", "body", "cta_label", "cta_url", "sender_name", *FLAGS)
FILTERS = ("status",)

# The list's dates: when it went out, else when it is scheduled, else when it was written (never NULL, so the
# keyset cursor always has a value to stand on).
WHEN = func.coalesce(C.sent_at, C.send_at, C.created_at)
SORTS = Sorts(
    SortOption("recent", "Most recent first", WHEN, descending=True),
    SortOption("oldest", "Oldest first", WHEN),
    SortOption("subject", "Subject A to Z", C.subject),
    SortOption("-subject", "Subject Z to A", C.subject, descending=True),
    SortOption("changed", "Last changed", C.updated_at, descending=True),
)


@dataclasses.dataclass(frozen=True, slots=True)
class CampaignData:
    """What the fellow writes: every field of a draft a form or the API may set."""

    subject: str
    body: str
    preheader: str = ""
    cta_label: str = ""
    cta_url: str = ""
    sender_name: str = ""
    track_opens: bool = False
    track_clicks: bool = False
    publish_as_news: bool = False

    @classmethod
    def of(cls, campaign: m.Campaign) -> CampaignData:
        return cls(**{name: getattr(campaign, name) for name in FIELDS})

    def form_values(self) -> dict[str, str]:
        """The values as a form shows them (ticked boxes are "1")."""
        values = dataclasses.asdict(self)
        return {k: ("1" if v else "") if isinstance(v, bool) else str(v) for k, v in values.items()}


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in {"1", "on", "true", "yes"}


def read(values: Mapping[str, Any]) -> tuple[CampaignData, dict[str, str]]:
    """The values as ``CampaignData`` and every message about them (empty when they can be saved). Reads leniently
    so a form with problems still has something to show again and to preview."""
    form = Form(dict(values))
    subject = form.line("subject", required=True, max_length=SUBJECT_MAX, label="Subject")
    preheader = form.line("preheader", max_length=PREHEADER_MAX, label="Preview text")
    body = form.str("body", required=True, max_length=BODY_MAX, label="Body")
    cta_label = form.line("cta_label", max_length=CTA_LABEL_MAX, label="Button label")
    cta_url = form.line("cta_url", max_length=CTA_URL_MAX, label="Button link")
    sender_name = form.line("sender_name", max_length=SENDER_MAX, label="Sender name")
    if body and "body" not in form.errors and (found := problems(body)):
        form.add_error("body", " ".join(found))
    if cta_label and not cta_url:
        form.add_error("cta_url", "Give the button a link, or leave the button label empty too.")
    elif cta_url and not cta_label:
        form.add_error("cta_label", "Give the button a label (what it says), or leave the button link empty too.")
    if cta_url and "cta_url" not in form.errors:
        parts = split_url(cta_url)
        if parts is None or parts.scheme.lower() != "https" or not parts.netloc or not link_allowed(cta_url):
            form.add_error("cta_url", "The button link must be a full web address starting with https://.")
    data = CampaignData(
        subject=subject,
        body=body,
        preheader=preheader,
        cta_label=cta_label,
        cta_url=cta_url,
        sender_name=sender_name,
        **{name: _flag(values.get(name)) for name in FLAGS},
    )
    return data, form.errors


def checks(values: Mapping[str, Any]) -> dict[str, str]:
    """Only the messages (``crm.web.pages.attempt``'s ``checks=``)."""
    return read(values)[1]


def validate(values: Mapping[str, Any]) -> CampaignData:
    """The values ready to store, or ``FieldErrors`` naming every bad field at once."""
    data, errors = read(values)
    if errors:
        raise FieldErrors(errors)
    return data


def snapshot(campaign: m.Campaign) -> dict[str, Any]:
    """What the audit trail compares: the fields the fellow writes."""
    return {name: getattr(campaign, name) for name in FIELDS}


def _apply(campaign: m.Campaign, data: CampaignData) -> None:
    for name in FIELDS:
        setattr(campaign, name, getattr(data, name))


def get(session: Session, campaign_id: int) -> m.Campaign:
    campaign = session.get(C, campaign_id)
    if campaign is None:
        raise NotFound("No campaign with this id.")
    return campaign


def create_draft(session: Session, actor: Principal | None, data: CampaignData, *, now: dt.datetime) -> m.Campaign:
    campaign = C(status=m.CampaignStatus.DRAFT, created_by=actor.email if actor else "", created_at=now, updated_at=now)
    _apply(campaign, data)
    session.add(campaign)
    session.flush()
    audit.record_changes(
        session, actor, ENTITY, campaign.id, {}, snapshot(campaign), summary=data.subject, action="created"
    )
    return campaign


def update_draft(
    session: Session, actor: Principal | None, campaign: m.Campaign, data: CampaignData, *, now: dt.datetime
) -> dict[str, Any]:
    """Store the new values of a campaign that may still change; returns the fields that changed (nothing is
    recorded when nothing did). Refused with ``FieldErrors`` ({"campaign": why}) once sending has started."""
    state.ensure_editable(campaign)
    before = snapshot(campaign)
    _apply(campaign, data)
    changes = audit.record_changes(
        session, actor, ENTITY, campaign.id, before, snapshot(campaign), summary=data.subject
    )
    if changes:
        campaign.updated_at = now
    session.flush()
    return changes


def copy_subject(subject: str) -> str:
    return (COPY_PREFIX + subject)[:SUBJECT_MAX]


def duplicate(session: Session, actor: Principal | None, campaign: m.Campaign, *, now: dt.datetime) -> m.Campaign:
    """A new draft with the same text, options and audience, "Copy of …": the way to send a campaign again or to
    start from one that went out. Nothing about sending is copied (status, times, recipients, news page)."""
    copy = C(
        status=m.CampaignStatus.DRAFT,
        audience=dict(campaign.audience or {}),
        duplicated_from_id=campaign.id,
        created_by=actor.email if actor else "",
        created_at=now,
        updated_at=now,
    )
    _apply(copy, dataclasses.replace(CampaignData.of(campaign), subject=copy_subject(campaign.subject)))
    session.add(copy)
    session.flush()
    audit.record_changes(
        session,
        actor,
        ENTITY,
        copy.id,
        {},
        snapshot(copy),
        summary=f"duplicated from campaign {campaign.id} ({campaign.subject})",
        action="created",
    )
    audit.record(session, actor, "duplicated", ENTITY, campaign.id, summary=f"as campaign {copy.id}")
    return copy


# ---------------------------------------------------------------------------------------------------------------
# The list


def _columns() -> Select[Any]:
    return select(
        C.id,
        C.subject,
        C.status,
        C.send_at,
        C.sent_at,
        C.started_at,
        C.recipients,
        C.audience_summary,
        C.publish_as_news,
        C.updated_at,
        C.created_at,
    )


def list_query(params: ListParams) -> Select[Any]:
    """Search (subject and preview text) and the status filter: every id the list shows, unordered."""
    query = _columns()
    if params.q:
        like = f"%{params.q.strip().lower()}%"
        query = query.where(or_(func.lower(C.subject).like(like), func.lower(C.preheader).like(like)))
    status = params.filters.get("status")
    if status in {s.value for s in m.CampaignStatus}:
        query = query.where(C.status == m.CampaignStatus(status))
    return query


def list_campaigns(session: Session, params: ListParams, *, count: bool = False) -> Page:
    """One page of campaigns: one statement (two with ``count``), whatever the number of campaigns."""
    return fetch_page(session, list_query(params), params, SORTS, id_column=C.id, count=count)


def audience_size(row: Any) -> int | None:
    """How many the campaign went (or is going) to, when known: the recipients queued once sending started,
    else what the last resolution counted (``audience_summary["included"]``), else None."""
    if row.status in state.STARTED or row.recipients:
        return int(row.recipients or 0)
    included = (row.audience_summary or {}).get("included") if isinstance(row.audience_summary, dict) else None
    if isinstance(included, dict) and included:
        try:
            return sum(int(v) for v in included.values())
        except (TypeError, ValueError):
            return None
    return None
