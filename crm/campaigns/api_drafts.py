"""What the campaigns API does beyond the fellow's pages: a draft and its audience in one request, and the JSON
shapes of a campaign and its figures.

The rules stay where the pages keep them: the fields through ``crm.campaigns.campaigns`` (``validate``,
``create_draft``, ``update_draft``), the audience through ``crm.campaigns.audience_builder.save`` (the builder
form's own validation and audit entry), whether a campaign may change through ``crm.campaigns.state``. This module
only turns the API's typed audience into the builder's form values, refuses values the form would silently drop
(an unknown mailing or organisation kind), and gathers every message into one ``FieldErrors`` so a client learns
all its mistakes at once, named as it sent them (``audience.subscribers.mailing``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.principal import Principal
from crm.campaigns import audience_builder, campaigns, figures, news, state
from crm.campaigns.audience_segment import DEFAULT_MAILING, LED_BY, Segment
from crm.campaigns.schemas import (
    Audience,
    CampaignOut,
    CampaignSummary,
    ContactsPart,
    CountOut,
    DayOut,
    Exclusions,
    FiguresOut,
    LinkOut,
    SubscribersPart,
)
from crm.errors import FieldErrors
from crm.settings import Settings

# The builder form's names for the API's audience fields (the rest are lists of ids, see INT_FIELDS there).
FORM_ERRORS = {
    "parts": "audience",
    "mailing": "audience.subscribers.mailing",
    "exclude_emails": "audience.exclude.emails",
}
CHOICES = {
    "org_kinds": {k.value for k in m.OrgKind},
    "vcse_categories": {c.value for c in m.VcseCategory},
    "led_by": set(LED_BY),
}


def audience_errors(aud: Audience) -> dict[str, str]:
    """Values the builder form would drop without a word: an unknown mailing, kind, category or "led by"."""
    errors: dict[str, str] = {}
    if aud.subscribers is not None and aud.subscribers.mailing not in {x.value for x in m.Mailing}:
        errors["audience.subscribers.mailing"] = "Use one of: " + ", ".join(x.value for x in m.Mailing) + "."
    if aud.contacts is not None:
        for name, allowed in CHOICES.items():
            unknown = [v for v in getattr(aud.contacts, name) if v not in allowed]
            if unknown:
                errors[f"audience.contacts.{name}"] = (
                    f"Unknown: {', '.join(unknown[:5])[:200]}. Use: {', '.join(sorted(allowed))}."
                )
    if aud.subscribers is None and aud.contacts is None:
        errors["audience"] = "Choose who gets this campaign: subscribers, contacts, or both."
    return errors


def _ids(values: list[int]) -> list[str]:
    return [str(v) for v in values]


def audience_form(aud: Audience) -> dict[str, Any]:
    """The builder form's values for this audience (``Segment.from_form`` reads them)."""
    sub, con, exc = aud.subscribers, aud.contacts, aud.exclude
    form: dict[str, Any] = {
        "parts": [p for p, on in (("subscribers", sub is not None), ("contacts", con is not None)) if on],
        "mailing": sub.mailing if sub is not None else DEFAULT_MAILING,
        "exclude_emails": "\n".join(exc.emails),
        "exclude_lists": _ids(exc.list_ids),
        "exclude_events_invited": _ids(exc.invited_event_ids),
        "exclude_events_attended": _ids(exc.attended_event_ids),
        "exclude_organisations": _ids(exc.organisation_ids),
    }
    if sub is not None:
        form |= {
            "sub_topics": _ids(sub.topic_ids),
            "sub_regions": _ids(sub.region_ids),
            "sub_funders": _ids(sub.funder_ids),
        }
    if con is not None:
        form |= {
            "org_kinds": list(con.org_kinds),
            "vcse_categories": list(con.vcse_categories),
            "led_by": list(con.led_by),
            "topics": _ids(con.topic_ids),
            "regions": _ids(con.region_ids),
            "lists": _ids(con.list_ids),
            "partnerships": _ids(con.partnership_ids),
            "events_invited": _ids(con.invited_event_ids),
            "events_attended": _ids(con.attended_event_ids),
        }
    return form


def _check_audience(aud: Audience | None) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The form values and every message about the audience (nothing stored)."""
    if aud is None:
        return None, {}
    errors = audience_errors(aud)
    form = audience_form(aud)
    if not errors:
        try:
            Segment.from_form(form)
        except FieldErrors as exc:
            errors = {FORM_ERRORS.get(k, f"audience.{k}"): v for k, v in exc.errors.items()}
    return form, errors


def _check(values: dict[str, Any], aud: Audience | None) -> tuple[campaigns.CampaignData, dict[str, Any] | None]:
    data, errors = campaigns.read(values)
    # A NUL character is refused on both databases alike (PostgreSQL's text cannot hold it; SQLite would store it
    # and the email's subject line would then be refused at sending).
    errors |= {
        k: "Remove the NUL character (\\u0000)." for k, v in values.items() if isinstance(v, str) and "\x00" in v
    }
    form, more = _check_audience(aud)
    if errors or more:
        raise FieldErrors({**errors, **more})
    return data, form


def create(
    session: Session, actor: Principal | None, values: dict[str, Any], aud: Audience | None, *, now: dt.datetime
) -> m.Campaign:
    """A new draft (and its audience when given), or ``FieldErrors`` naming every bad field; nothing half-made."""
    data, form = _check(values, aud)
    campaign = campaigns.create_draft(session, actor, data, now=now)
    if form is not None:
        audience_builder.save(session, actor, campaign, form)
    return campaign


def update(
    session: Session,
    actor: Principal | None,
    campaign: m.Campaign,
    values: dict[str, Any],
    aud: Audience | None,
    *,
    now: dt.datetime,
) -> None:
    """Change the fields given (the others keep their values) and the audience when given. A campaign that has
    started sending is refused first (``FieldErrors`` with the one key ``campaign``: the API's 409)."""
    state.ensure_editable(campaign)
    merged = {**campaigns.CampaignData.of(campaign).form_values(), **values}
    data, form = _check(merged, aud)
    if values:
        campaigns.update_draft(session, actor, campaign, data, now=now)
    if form is not None:
        audience_builder.save(session, actor, campaign, form)


# --- the JSON shapes ---------------------------------------------------------------------------------------------


def audience_out(stored: dict[str, Any] | None) -> Audience:
    seg = Segment.from_json(stored or {})
    return Audience(
        subscribers=SubscribersPart(
            mailing=seg.mailing,
            topic_ids=list(seg.sub_topic_ids),
            region_ids=list(seg.sub_region_ids),
            funder_ids=list(seg.funder_ids),
        )
        if seg.subscribers
        else None,
        contacts=ContactsPart(
            org_kinds=list(seg.org_kinds),
            vcse_categories=list(seg.vcse_categories),
            led_by=list(seg.led_by),
            region_ids=list(seg.region_ids),
            topic_ids=list(seg.topic_ids),
            list_ids=list(seg.list_ids),
            partnership_ids=list(seg.partnership_ids),
            invited_event_ids=list(seg.invited_event_ids),
            attended_event_ids=list(seg.attended_event_ids),
        )
        if seg.contacts
        else None,
        exclude=Exclusions(
            list_ids=list(seg.exclude_list_ids),
            invited_event_ids=list(seg.exclude_invited_event_ids),
            attended_event_ids=list(seg.exclude_attended_event_ids),
            organisation_ids=list(seg.exclude_organisation_ids),
            emails=list(seg.exclude_emails),
        ),
    )


def campaign_out(settings: Settings, c: m.Campaign, f: figures.Figures | None = None) -> CampaignOut:
    summary = c.audience_summary if isinstance(c.audience_summary, dict) else {}
    return CampaignOut(
        id=c.id,
        subject=c.subject,
        preheader=c.preheader,
        body=c.body,
        cta_label=c.cta_label,
        cta_url=c.cta_url,
        sender_name=c.sender_name,
        track_opens=c.track_opens,
        track_clicks=c.track_clicks,
        publish_as_news=c.publish_as_news,
        status=c.status.value,
        editable=state.is_editable(c),
        audience=audience_out(c.audience),
        audience_summary=msgspec.to_builtins(summary),
        send_at=c.send_at,
        started_at=c.started_at,
        sent_at=c.sent_at,
        recipients=c.recipients,
        news_url=news.news_url(settings, c) or None,
        duplicated_from_id=c.duplicated_from_id,
        created_by=c.created_by,
        created_at=c.created_at,
        updated_at=c.updated_at,
        figures=figures_out(f) if f is not None else None,
    )


def summary_out(row: Any) -> CampaignSummary:
    return CampaignSummary(
        id=row.id,
        subject=row.subject,
        status=row.status.value,
        send_at=row.send_at,
        sent_at=row.sent_at,
        recipients=campaigns.audience_size(row),
        updated_at=row.updated_at,
    )


def _count(f: figures.Figures, name: str, known: bool) -> CountOut | None:
    if not known:
        return None
    c = f.event(name)
    return CountOut(people=c.unique, events=c.total)


def figures_out(f: figures.Figures) -> FiguresOut:
    """The figures, with what the transport does not report (or tracking was off for) as null, never 0."""
    r = f.reported
    return FiguresOut(
        delivery_reported=r,
        recipients=f.recipients,
        queued=f.queued,
        waiting=f.waiting,
        sent=f.sent,
        not_sent=f.not_sent,
        not_sent_by_status=dict(f.not_sent_by_status),
        unsubscribed=f.unsubscribed,
        delivered=_count(f, "delivered", r),
        deferred=_count(f, "deferred", r),
        bounced=_count(f, "bounced", r),
        dropped=_count(f, "dropped", r),
        spam_reports=_count(f, "spam_reports", r),
        opened=_count(f, "opened", f.opens_known),
        clicked=_count(f, "clicked", f.clicks_known),
        days=[
            DayOut(
                day=d.number,
                start=d.start,
                delivered=d.counts["delivered"] if r else None,
                opened=d.counts["open"] if f.opens_known else None,
                clicked=d.counts["click"] if f.clicks_known else None,
            )
            for d in f.days
        ]
        if r
        else None,
        links=[LinkOut(url=link.url, people=link.unique, clicks=link.total) for link in f.links]
        if f.clicks_known
        else None,
    )
