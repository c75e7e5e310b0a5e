"""What happened to a campaign: queued, sent, delivered, opened, clicked... counted from the outbox and the
provider's delivery events.

Why aggregate queries: a campaign may have 100,000 recipients and each of them several events, so every figure is
a ``GROUP BY`` over ``campaign_recipients`` joined to ``outbox_messages`` (by ``campaign_recipients.outbox_id``) or
to ``delivery_events`` (by ``delivery_events.outbox_id``, indexed). ``figures()`` costs the same six statements
whatever the campaign's size (the test counts them at two sizes).

How each figure is counted (docs/campaigns.md "Figures" says the same in the fellow's words):

- *queued*: recipients with an outbox row; *waiting*, *sent*, *not sent* split them by the row's status (a row the
  dispatcher held back at claim time because the address is suppressed or withdrew is "not sent").
- *delivered*, *deferred*, *bounced*, *dropped*, *spam reports*, *opened*, *clicked*: recipients (distinct outbox
  rows) with at least one such event; ``total`` counts the events themselves (opens and clicks repeat).
- *unsubscribed*: recipients who, after the campaign started, withdrew from the stream it reached them on (their
  outbox row's ``mailing``) or from everything in the consent log, or whose message has a provider
  ``unsubscribe``/``group_unsubscribe`` event. The unsubscribe link names the stream, not the campaign, so a person
  who unsubscribes after a later email of the same stream is counted for both campaigns.

The provider figures are facts only when the transport reports them (``crm.mailing.transports.reports_delivery``:
SendGrid with its signed Event Webhook); the caller passes ``reported`` and the page says "not reported" instead of
zeros otherwise. Opens and clicks are also only known when the campaign switched SendGrid's tracking on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import String, and_, case, cast, distinct, exists, func, literal, or_, select, type_coerce
from sqlalchemy.orm import Session

from crm import models as m
from crm.errors import NotFound
from crm.models.base import UTCDateTime

R, OB, E, C = m.CampaignRecipient, m.OutboxMessage, m.DeliveryEvent, m.ConsentEntry
S = m.OutboxStatus

WAITING = (S.QUEUED, S.SENDING, S.RETRY, S.AMBIGUOUS)
NOT_SENT = (S.SUPPRESSED, S.FAILED, S.CANCELLED)
# Provider events counted per recipient, and the name of each figure.
EVENT_FIGURES = {
    "delivered": "delivered",
    "deferred": "deferred",
    "bounce": "bounced",
    "dropped": "dropped",
    "spamreport": "spam_reports",
    "open": "opened",
    "click": "clicked",
}
UNSUBSCRIBE_EVENTS = ("unsubscribe", "group_unsubscribe")
WITHDRAWALS = (m.ConsentAction.UNSUBSCRIBE, m.ConsentAction.UNSUBSCRIBE_ALL)
CHART_DAYS = 7
CHART_SERIES = {"delivered": "Delivered", "open": "Opened", "click": "Clicked"}
MAX_LINKS = 50


@dataclasses.dataclass(frozen=True, slots=True)
class Count:
    """Recipients with at least one such event (``unique``) and the events themselves (``total``)."""

    unique: int = 0
    total: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class Day:
    """One day of the chart: the 24 hours from ``start``, and how many recipients had each event in them."""

    number: int  # 1..7
    start: dt.datetime
    counts: dict[str, int]


@dataclasses.dataclass(frozen=True, slots=True)
class Link:
    url: str
    unique: int  # recipients who clicked it
    total: int  # clicks


@dataclasses.dataclass(frozen=True, slots=True)
class Figures:
    campaign_id: int
    status: str
    started_at: dt.datetime | None
    recipients: int  # recorded at send time (campaign_recipients)
    queued: int  # with an outbox row
    waiting: int  # not yet handed to the provider (queued, sending, retry, ambiguous)
    sent: int  # handed to the provider
    not_sent: int  # suppressed at claim time, failed or cancelled
    not_sent_by_status: dict[str, int]
    events: dict[str, Count]  # keyed by figure name: delivered, deferred, bounced, dropped, spam_reports, ...
    unsubscribed: int
    days: list[Day]
    links: list[Link]
    track_opens: bool
    track_clicks: bool
    reported: bool  # the transport reports delivery and engagement (else those figures are not facts)

    def event(self, name: str) -> Count:
        return self.events.get(name, Count())

    @property
    def opens_known(self) -> bool:
        return self.reported and self.track_opens

    @property
    def clicks_known(self) -> bool:
        return self.reported and self.track_clicks


def _campaign(session: Session, campaign_id: int) -> m.Campaign:
    campaign = session.get(m.Campaign, campaign_id)
    if campaign is None:
        raise NotFound("No such campaign.")
    return campaign


def figures(session: Session, campaign_id: int, *, reported: bool) -> Figures:
    """Every figure of one campaign in six statements: the campaign, outbox statuses, events, unsubscribes, the
    chart, clicks per link (``figures_for`` skips the first when the campaign is loaded already)."""
    campaign = _campaign(session, campaign_id)
    return figures_for(session, campaign, reported=reported)


def figures_for(session: Session, campaign: m.Campaign, *, reported: bool) -> Figures:
    statuses = outbox_statuses(session, campaign.id)
    recipients = sum(statuses.values())
    queued = recipients - statuses.get(None, 0)
    waiting = sum(statuses.get(s.value, 0) for s in WAITING)
    not_sent = {s.value: statuses.get(s.value, 0) for s in NOT_SENT if statuses.get(s.value)}
    started = campaign.started_at
    return Figures(
        campaign_id=campaign.id,
        status=campaign.status.value,
        started_at=started,
        recipients=recipients,
        queued=queued,
        waiting=waiting,
        sent=statuses.get(S.SENT.value, 0),
        not_sent=sum(not_sent.values()),
        not_sent_by_status=not_sent,
        events=event_counts(session, campaign.id),
        unsubscribed=unsubscribed(session, campaign.id, started) if started else 0,
        days=daily(session, campaign.id, started) if started else [],
        links=clicks_per_link(session, campaign.id),
        track_opens=campaign.track_opens,
        track_clicks=campaign.track_clicks,
        reported=reported,
    )


def outbox_statuses(session: Session, campaign_id: int) -> dict[str | None, int]:
    """Recipients per outbox status (``None``: no outbox row yet), one statement."""
    query = (
        select(OB.status, func.count())
        .select_from(R)
        .outerjoin(OB, OB.id == R.outbox_id)
        .where(R.campaign_id == campaign_id)
        .group_by(OB.status)
    )
    return {(status.value if status is not None else None): n for status, n in session.execute(query)}


def _events_of(campaign_id: int) -> Any:
    """Delivery events of the campaign's outbox rows (the join every event figure makes).

    Only the campaign narrows it, never the event's kind or time: with such a condition PostgreSQL without fresh
    statistics (a table just filled by a large campaign's webhook) expected a handful of events, probed the
    recipients' two indexes for each one and took minutes at 100,000 recipients. Kinds and times are sorted out in
    the grouping instead, so each query walks the campaign's recipients and their events by the outbox index."""
    return select().select_from(R).join(E, E.outbox_id == R.outbox_id).where(R.campaign_id == campaign_id)


def event_counts(session: Session, campaign_id: int) -> dict[str, Count]:
    """Per figure: recipients with at least one such event and the events, one statement."""
    query = _events_of(campaign_id).add_columns(E.event, func.count(distinct(E.outbox_id)), func.count())
    rows = session.execute(query.group_by(E.event))
    return {EVENT_FIGURES[event]: Count(unique, total) for event, unique, total in rows if event in EVENT_FIGURES}


def unsubscribed(session: Session, campaign_id: int, started: dt.datetime) -> int:
    """Recipients who withdrew after the campaign started (see the module's docstring), one statement."""
    stream_named = cast(C.mailings, String).like(literal('%"') + OB.mailing + literal('"%'))
    withdrew = exists().where(
        C.email == R.email,
        C.action.in_(WITHDRAWALS),
        C.created_at >= started,
        or_(C.action == m.ConsentAction.UNSUBSCRIBE_ALL, and_(OB.mailing.is_not(None), stream_named)),
    )
    provider = exists().where(E.outbox_id == R.outbox_id, E.event.in_(UNSUBSCRIBE_EVENTS))
    query = (
        select(func.count())
        .select_from(R)
        .join(OB, OB.id == R.outbox_id)
        .where(R.campaign_id == campaign_id, or_(withdrew, provider))
    )
    return int(session.scalar(query) or 0)


def day_starts(started: dt.datetime) -> list[dt.datetime]:
    return [started + dt.timedelta(days=i) for i in range(CHART_DAYS)]


def daily(session: Session, campaign_id: int, started: dt.datetime) -> list[Day]:
    """Recipients delivered, opening and clicking on each of the first seven days (24-hour periods from the start;
    a person who opens on two days counts on both), one statement."""
    starts = day_starts(started)
    charted = E.event.in_(list(CHART_SERIES))
    bucket = case(
        *(
            (and_(charted, E.occurred_at >= s, E.occurred_at < s + dt.timedelta(days=1)), i)
            for i, s in enumerate(starts)
        )
    )
    inner = (
        _events_of(campaign_id)
        .add_columns(E.event.label("event"), bucket.label("day"), E.outbox_id.label("outbox_id"))
        .subquery()
    )
    # Grouped outside the subquery: PostgreSQL would not see the CASE's bound values in GROUP BY as the same. Events
    # outside the week or of other kinds fall in the NULL day, read and dropped here (see ``_events_of``).
    query = select(inner.c.event, inner.c.day, func.count(distinct(inner.c.outbox_id))).group_by(
        inner.c.event, inner.c.day
    )
    counts = [dict.fromkeys(CHART_SERIES, 0) for _ in starts]
    for event, day, n in session.execute(query):
        if day is not None and event in CHART_SERIES:
            counts[int(day)][event] = n
    return [Day(i + 1, start, counts[i]) for i, start in enumerate(starts)]


def clicks_per_link(session: Session, campaign_id: int, limit: int = MAX_LINKS) -> list[Link]:
    """The links clicked most (``payload["url"]`` of click events), with recipients and clicks, one statement.
    The other events' row (no URL) is dropped here rather than filtered in SQL (see ``_events_of``)."""
    url = case((E.event == "click", E.payload["url"].as_string()))
    inner = _events_of(campaign_id).add_columns(url.label("url"), E.outbox_id.label("outbox_id")).subquery()
    query = select(inner.c.url, func.count(distinct(inner.c.outbox_id)), func.count()).group_by(inner.c.url)
    links = [Link(u, unique, clicks) for u, unique, clicks in session.execute(query) if u is not None]
    links.sort(key=lambda link: (-link.total, link.url))
    return links[:limit]


# --- recipients with their latest status (CSV) -------------------------------------------------------------------

CSV_HEADER = [
    "email", "name", "audience", "status", "outbox_status", "delivery_report", "delivered_at", "opens", "clicks",
    "first_opened_at", "last_clicked_at",
]  # fmt: skip
PARTS = {m.AudiencePart.SUBSCRIBERS.value: "subscriber", m.AudiencePart.CONTACTS.value: "directory contact"}
OUTBOX_WORDS = {
    "queued": "waiting to be sent",
    "sending": "waiting to be sent",
    "retry": "waiting to be sent again",
    "ambiguous": "waiting: may have been sent",
    "sent": "sent",
    "suppressed": "not sent: address blocked or withdrew",
    "failed": "not sent: failed",
    "cancelled": "not sent: cancelled",
}
REPORT_WORDS = {
    "processed": "accepted by the provider",
    "delivered": "delivered",
    "deferred": "delivery delayed",
    "bounced": "bounced",
    "blocked": "blocked by the receiving server",
    "dropped": "dropped by the provider",
    "spamreport": "reported as spam",
}
CSV_BATCH = 1000


def latest_status(outbox_status: str | None, report: str, opens: int, clicks: int) -> str:
    """The furthest a recipient got, in words: clicked, opened, the provider's last report, or the outbox status."""
    if report in {"bounced", "blocked", "dropped", "spamreport"}:
        return REPORT_WORDS[report]
    if clicks:
        return "clicked"
    if opens:
        return "opened"
    if report and report != "processed":
        return REPORT_WORDS.get(report, report)
    if outbox_status is None:
        return "not queued"
    return OUTBOX_WORDS.get(outbox_status, outbox_status)


def recipient_rows(session: Session, campaign_id: int) -> Iterator[list[Any]]:
    """The header, then one row per recipient by email address, two statements per 1,000.

    Keyset on ``(campaign_id, email)``, the unique index's own order: keyed on the id instead, SQLite read the
    index and sorted the whole campaign again for every batch (27 s for 100,000 recipients)."""
    yield CSV_HEADER
    last = ""
    while True:
        batch = session.execute(
            select(R.email, R.name, R.part, R.outbox_id, OB.status, OB.delivery_status, OB.delivered_at)
            .outerjoin(OB, OB.id == R.outbox_id)
            .where(R.campaign_id == campaign_id, R.email > last)
            .order_by(R.campaign_id, R.email)
            .limit(CSV_BATCH)
        ).all()
        if not batch:
            return
        last = batch[-1].email
        engagement = _engagement(session, [r.outbox_id for r in batch if r.outbox_id is not None])
        for r in batch:
            opens, clicks, first_open, last_click = engagement.get(r.outbox_id, (0, 0, None, None))
            status = r.status.value if r.status is not None else None
            report = r.delivery_status or ""
            yield [
                r.email,
                r.name,
                PARTS.get(r.part.value, r.part.value),
                latest_status(status, report, opens, clicks),
                status or "",
                report,
                _iso(r.delivered_at),
                opens,
                clicks,
                _iso(first_open),
                _iso(last_click),
            ]


def _engagement(session: Session, outbox_ids: Sequence[int]) -> dict[int, tuple[int, int, Any, Any]]:
    if not outbox_ids:
        return {}
    is_open, is_click = E.event == "open", E.event == "click"
    query = (
        select(
            E.outbox_id,
            func.sum(case((is_open, 1), else_=0)),
            func.sum(case((is_click, 1), else_=0)),
            type_coerce(func.min(case((is_open, E.occurred_at))), UTCDateTime()),
            type_coerce(func.max(case((is_click, E.occurred_at))), UTCDateTime()),
        )
        # No condition on the event's kind: SQLite then chose the index on ``event`` over the one on ``outbox_id``.
        .where(E.outbox_id.in_(list(outbox_ids)))
        .group_by(E.outbox_id)
    )
    return {row[0]: (row[1], row[2], row[3], row[4]) for row in session.execute(query)}


def _iso(value: Any) -> str:
    if value is None:
        return ""
    return value.astimezone(dt.UTC).isoformat(timespec="seconds")
