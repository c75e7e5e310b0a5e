"""The "News" section: the fellow's campaigns published as news in the digest's period, for subscribers to
"News and announcements", except those the subscriber was already sent as the campaign email itself.

Items are loaded once per run (one statement: news published after the period's start; the builder holds back
those published after its cut-off). Which news campaigns each subscriber was emailed comes with the engine's one
batch SELECT, as two correlated aggregates (``batch_columns``): campaign recipients with their subscription id, and
those with their address (a subscriber reached as a directory contact), whose outbox row is queued, on its way or
sent. Those campaigns join the subscriber's ledger (``absorb``), so the builder skips them as it skips items
already delivered in a digest: no statement per batch is added.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from crm import models as m
from crm.campaigns.news import news_path, rows_published_between, summary_of
from crm.digests.sections.base import Catalogue, Item, Section, SubscriberView, clip, string_agg
from crm.timefmt import format_date

LEDGER_KIND = "news"
# Outbox states that mean the campaign email went, or is going, to the reader (failed, suppressed and
# cancelled ones did not reach them, so the digest carries the item).
REACHED = (
    m.OutboxStatus.QUEUED,
    m.OutboxStatus.SENDING,
    m.OutboxStatus.RETRY,
    m.OutboxStatus.SENT,
    m.OutboxStatus.AMBIGUOUS,
)
# Without a period (rendering at dispatch), items published this far back are loaded: more than a monthly
# period plus the lateness a run may have.
RENDER_WINDOW = dt.timedelta(days=100)
BY_SUBSCRIPTION = "news_sent_by_subscription"
BY_EMAIL = "news_sent_by_email"


class NewsItem(Item):
    __slots__ = ("date", "id", "published_at", "summary", "title", "url")


def load_news(cat: Catalogue) -> list[NewsItem]:
    since = cat.since if cat.since is not None else cat.now - RENDER_WINDOW
    base = cat.base_url
    return [
        NewsItem(
            id=r.id,
            title=clip(r.subject, 200) or "News",
            summary=summary_of(r.preheader, r.body, 240),
            date=format_date(r.published_at),
            published_at=r.published_at,
            url=base + news_path(r.news_slug),
        )
        for r in rows_published_between(cat.session, since, None)
    ]


def _ids(raw: Any) -> list[int]:
    if not raw:
        return []
    return [int(x) for x in str(raw).split(",") if x.strip().isdigit()]


class News(Section):
    key = "news"
    title = "News"
    item_kind = "news"
    ledger_kind = LEDGER_KIND
    mailing = m.Mailing.NEWS.value
    limit = 3
    more_url = "/news"
    source = ("news", load_news)

    def cache_key(self, sub: SubscriberView) -> Any:
        return ()  # every subscriber to news sees the same items (those already emailed are in their ledger)

    def candidates(self, catalogue: Catalogue, sub: SubscriberView) -> Iterable[Any]:
        return self.open_items(catalogue)  # newest first

    def batch_columns(self, dialect: str, since: dt.datetime | None) -> dict[str, Any]:
        S, R, Out, C = m.Subscription, m.CampaignRecipient, m.OutboxMessage, m.Campaign
        news = select(C.id).where(C.news_slug.is_not(None), C.published_at.is_not(None))
        if since is not None:
            news = news.where(C.published_at > since)

        def emailed(*match: Any) -> Any:
            return (
                select(string_agg(dialect, R.campaign_id))
                .join(Out, Out.id == R.outbox_id)
                .where(*match, R.campaign_id.in_(news), Out.status.in_(REACHED))
                .scalar_subquery()
            )

        # Two lookups, each on its own index (recipients by subscription; by campaign and address).
        return {BY_SUBSCRIPTION: emailed(R.subscription_id == S.id), BY_EMAIL: emailed(R.email == S.email)}

    def absorb(self, view: SubscriberView, row: Any) -> None:
        for raw in (getattr(row, BY_SUBSCRIPTION, None), getattr(row, BY_EMAIL, None)):
            for campaign_id in _ids(raw):
                view.sent.setdefault(LEDGER_KIND, set()).add(campaign_id)
