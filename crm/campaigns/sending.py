"""Test, schedule, send and cancel a campaign: the rules, in one place for the page, the API and the worker.

- **Test**: the campaign rendered now (``render_campaign``) to the signed-in admin, kind ``campaign_test``,
  subject prefixed "[Test] "; at most one per admin and minute (a double click sends one).
- **Schedule** at a Europe/London time (``crm.timefmt.parse_local``); refused with a message for a missing
  subject, a time that has passed, or an audience with nobody in it now. **Cancel** returns it to draft.
- **Send now**: ``crm.campaigns.state.begin_sending`` (one conditional UPDATE: a second press, a second worker or
  a cancel that came first changes nothing), then the audience is resolved *at that moment*
  (``crm.campaigns.audience.resolve``) and recorded (``audience_summary``, ``campaign_recipients``,
  ``recipients``). An audience of at most ``IN_REQUEST_LIMIT`` people is queued in the request's own transaction
  (all or nothing: a failure rolls the campaign back to what it was); a larger one is handed to the worker
  (``crm.campaigns.jobs``, every minute), which commits batch by batch and resumes after a crash.

Services never commit: ``run_send`` takes an ``after_batch`` hook the worker uses to commit each batch.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crm import models as m
from crm.campaigns import audience, news, state
from crm.campaigns.audience_segment import Segment
from crm.campaigns.queueing import QueueStats, queue_recipients, unique
from crm.campaigns.render import render_campaign
from crm.errors import FieldErrors
from crm.mailing import compliance
from crm.mailing.outbox import enqueue
from crm.mailing.render import EmailRenderer, RenderedEmail
from crm.timefmt import format_datetime, parse_local
from crm.tokens import Signer

S = m.CampaignStatus
TEST_KIND = "campaign_test"
IN_REQUEST_LIMIT = 2000  # queued while the fellow waits (well under a second); more goes to the worker
EMPTY_NOTE = "Nobody was in the audience when the send began, so nothing was sent and it is a draft again."
TEST_WHY = (
    "This is a test of a campaign, sent only to you. The links below work as a recipient's would, "
    "but act on your own address."
)


def segment_of(campaign: m.Campaign) -> Segment:
    return Segment.from_json(campaign.audience or {})


def audience_now(session: Session, campaign: m.Campaign) -> audience.Preview:
    """Who would get the campaign if it were sent at this moment (the send page's count)."""
    return audience.preview(session, segment_of(campaign), sample=5)


def content_problems(campaign: m.Campaign) -> dict[str, str]:
    """What must be fixed before anything (even a test) goes out."""
    problems: dict[str, str] = {}
    if not (campaign.subject or "").strip():
        problems["subject"] = "Add a subject before sending: the subject is what people see in their inbox."
    if not (campaign.body or "").strip():
        problems["body"] = "Write the message before sending: the campaign has no text yet."
    return problems


def _refuse_unless_ready(session: Session, campaign: m.Campaign) -> audience.Preview:
    """The audience now, or a refusal naming what is missing (subject, text, anyone to send to)."""
    problems = content_problems(campaign)
    if problems:
        raise FieldErrors(problems)
    now = audience_now(session, campaign)
    if now.is_empty:
        raise FieldErrors(
            {
                "audience": "Nobody is in this audience at the moment, so there is no one to send to. "
                "Choose the audience again or remove an exclusion."
            }
        )
    return now


# --- test ------------------------------------------------------------------------------------------------------


def test_email(renderer: EmailRenderer, signer: Signer, campaign: m.Campaign, email: str, name: str) -> RenderedEmail:
    """The campaign as a recipient would get it, for ``email``, its subject marked "[Test] "."""
    settings = renderer.settings
    values = {
        "name": name,
        "unsubscribe_url": compliance.unsubscribe_url(signer, settings, email, compliance.CONTACT_STREAM),
        "unsubscribe_all_url": compliance.unsubscribe_url(signer, settings, email, None),
        "preferences_url": compliance.preferences_url(signer, settings, email),
        "why_text": TEST_WHY,
        "view_url": news.news_url(settings, campaign),
    }
    rendered = render_campaign(renderer, campaign, values)
    return dataclasses.replace(rendered, subject=f"[Test] {rendered.subject}")


def send_test(
    session: Session,
    renderer: EmailRenderer,
    signer: Signer,
    campaign: m.Campaign,
    *,
    email: str,
    name: str,
    now: dt.datetime,
) -> bool:
    """Queue a test to ``email`` (the signed-in admin); False when one already went to them this minute."""
    problems = content_problems(campaign)
    if problems:
        raise FieldErrors(problems)
    rendered = test_email(renderer, signer, campaign, email, name)
    row = enqueue(
        session,
        renderer,
        key=f"campaign-test:{campaign.id}:{email.strip().lower()}:{now:%Y%m%d%H%M}",
        kind=TEST_KIND,
        template="campaign",
        to=email,
        to_name=name,
        context={"c": campaign.id},
        rendered=rendered,
    )
    return row is not None


# --- schedule and cancel ---------------------------------------------------------------------------------------


def schedule(session: Session, campaign: m.Campaign, raw_time: str, now: dt.datetime) -> dt.datetime:
    """Schedule (or move) a draft or scheduled campaign to ``raw_time`` (Europe/London); returns it in UTC."""
    if campaign.status not in state.SENDABLE:
        raise FieldErrors(
            {"send_at": f"This campaign is {state.LABELS[campaign.status].lower()}: it cannot be scheduled."}
        )
    send_at = parse_local(raw_time)
    if send_at is None:
        raise FieldErrors({"send_at": "Enter the date and time to send, for example 24/12/2026 09:00."})
    if send_at <= now:
        raise FieldErrors(
            {
                "send_at": f"{format_datetime(send_at)} (London time) has already passed. "
                "Choose a time in the future, or send now."
            }
        )
    _refuse_unless_ready(session, campaign)
    campaign.status = S.SCHEDULED
    campaign.send_at = send_at
    campaign.updated_at = now
    session.flush()
    return send_at


def cancel(session: Session, campaign: m.Campaign, now: dt.datetime) -> None:
    """A scheduled send back to draft (one conditional UPDATE: a worker that started it first wins)."""
    done = session.execute(
        update(m.Campaign)
        .where(m.Campaign.id == campaign.id, m.Campaign.status.in_(state.CANCELLABLE))
        .values(status=S.DRAFT, send_at=None, updated_at=now)
    ).rowcount
    session.refresh(campaign)
    if not done:
        raise FieldErrors(
            {"campaign": f"This campaign is {state.LABELS[campaign.status].lower()}, not scheduled: nothing to cancel."}
        )


# --- send ------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class SendResult:
    started: bool  # False: it had already started (a second press) and nothing changed
    queued: bool  # every recipient is in the outbox now (else the worker queues them within a minute)
    recipients: int


def send_now(session: Session, campaign: m.Campaign, now: dt.datetime) -> SendResult:
    """The fellow's "Send now" (confirmed). A second press answers ``started=False`` and sends nothing twice."""
    if campaign.status in state.STARTED:
        return SendResult(False, campaign.status == S.SENT, campaign.recipients)
    preview = _refuse_unless_ready(session, campaign)
    if not state.begin_sending(session, campaign.id, now):
        session.refresh(campaign)
        return SendResult(False, campaign.status == S.SENT, campaign.recipients)
    session.refresh(campaign)
    if preview.total > IN_REQUEST_LIMIT:
        return SendResult(True, False, 0)  # the worker resolves and queues it (crm.campaigns.jobs)
    run_send(session, campaign, now)
    if campaign.status == S.DRAFT:  # everyone left the audience between the check and the send
        raise FieldErrors({"audience": EMPTY_NOTE})
    return SendResult(True, campaign.status == S.SENT, campaign.recipients)


def run_send(
    session: Session, campaign: m.Campaign, now: dt.datetime, *, after_batch: Callable[[int], None] | None = None
) -> QueueStats:
    """Resolve the audience now, record it, queue every recipient, mark the campaign sent (and publish it as
    news when asked). For a campaign in "sending": a first run or the resumption of one a crash interrupted
    (what was queued before is skipped by its keys). ``after_batch`` runs after the record and each batch."""
    resolution = audience.resolve(session, segment_of(campaign))
    if not resolution.recipients:
        campaign.status, campaign.send_at, campaign.started_at = S.DRAFT, None, None
        campaign.audience_summary = {**resolution.summary(), "note": EMPTY_NOTE, "resolved_at": now.isoformat()}
        campaign.updated_at = now
        session.flush()
        return QueueStats()
    campaign.audience_summary = {**resolution.summary(), "resolved_at": now.isoformat()}
    if campaign.publish_as_news:
        news.publish(session, campaign, now)  # before the rows: every email gets its "view in your browser" link
    session.flush()
    if after_batch is not None:
        after_batch(0)
    stats = queue_recipients(session, campaign.id, unique(resolution.recipients), now, after_batch=after_batch)
    finish(session, campaign, now)
    return stats


def finish(session: Session, campaign: m.Campaign, now: dt.datetime) -> None:
    """Every recipient is queued: the campaign is sent, with its count of recipients."""
    count = session.scalar(
        select(func.count()).select_from(m.CampaignRecipient).where(m.CampaignRecipient.campaign_id == campaign.id)
    )
    session.execute(
        update(m.Campaign)
        .where(m.Campaign.id == campaign.id, m.Campaign.status == S.SENDING)
        .values(status=S.SENT, sent_at=now, recipients=count or 0, updated_at=now)
    )
    session.refresh(campaign)
