"""News: campaigns published on the public site (the /news archive, a page per item, the Atom feed).

A campaign becomes news when ``publish`` gives it a slug and a ``published_at``; the sending helper calls it when a
campaign with ``publish_as_news`` has finished queueing, so the page, the email's "View in your browser" link and
the digest's News section all appear together. Publishing is idempotent (a resumed send calls it again and
nothing changes). ``unpublish`` takes an item off the site but keeps its slug reserved, so publishing it again
brings back the same address.

Only campaigns that went out (sending or sent) with ``published_at`` set are public: a draft, a scheduled or
cancelled campaign, or one that was unpublished, is "not found" whatever its stored fields say.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.campaigns.markdown import to_text
from crm.directory.reference import slugify
from crm.errors import FieldErrors, NotFound
from crm.listing import ListParams, Page, SortOption, Sorts, fetch_page
from crm.settings import Settings

C = m.Campaign
# What a reader may see: a campaign that has gone out. (Sending counts: publish runs as queueing finishes, in
# the same transaction that marks it sent, or just before.)
WENT_OUT = (m.CampaignStatus.SENDING, m.CampaignStatus.SENT)
SLUG_LENGTH = 120
FEED_SIZE = 50
SUMMARY_LENGTH = 280
_UNDERLINE = re.compile(r"[=-]{3,}")
_STRONG = re.compile(r"\*([^*\s](?:[^*]*[^*\s])?)\*")

SORTS = Sorts(
    SortOption("newest", "Newest first", C.published_at, descending=True),
    SortOption("oldest", "Oldest first", C.published_at),
)
COUNTED = ("campaigns",)  # what the archive's count reads: kept until a campaign is written (crm.httpcache.kept)


def is_public(campaign: m.Campaign) -> bool:
    return bool(campaign.news_slug) and campaign.published_at is not None and campaign.status in WENT_OUT


def _public() -> list[ColumnElement[bool]]:
    return [C.news_slug.is_not(None), C.published_at.is_not(None), C.status.in_(WENT_OUT)]


def unique_slug(session: Session, subject: str, *, exclude_id: int | None = None) -> str:
    """The subject as a URL slug (``mrc-call-briefing-on-thursday``), with ``-2``, ``-3``… when taken."""
    base = slugify(subject, SLUG_LENGTH) if subject.strip() else "news"
    if base == "item":  # slugify's fallback for a subject with no latin letters or digits
        base = "news"
    taken = set(
        session.scalars(
            select(C.news_slug).where(C.news_slug.startswith(base, autoescape=True), C.id != (exclude_id or 0))
        )
    )
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def publish(session: Session, campaign: m.Campaign, now: dt.datetime) -> m.Campaign:
    """Publish a campaign that has gone out as news: a slug from its subject and ``published_at`` (``now``).

    Idempotent: an already published campaign keeps its slug and date. A campaign unpublished earlier gets its
    old slug back. Refuses a campaign that has not been sent (a draft on the public site would be a leak)."""
    if campaign.status not in WENT_OUT:
        raise FieldErrors({"campaign": "Only a campaign that has been sent can be published as news."})
    if campaign.news_slug is None:
        campaign.news_slug = unique_slug(session, campaign.subject, exclude_id=campaign.id)
    if campaign.published_at is None:
        campaign.published_at = now
    campaign.publish_as_news = True
    session.flush()
    return campaign


def unpublish(session: Session, campaign: m.Campaign) -> m.Campaign:
    """Take a news item off the site, the feed and future digests (emails already sent keep their link, which
    then answers "not found"). The slug stays reserved for this campaign."""
    campaign.published_at = None
    campaign.publish_as_news = False
    session.flush()
    return campaign


def news_path(slug: str) -> str:
    return f"/news/{slug}"


def news_url(settings: Settings, campaign: m.Campaign) -> str:
    """The public page of a campaign published as news ("" when it has no slug): the email's "View in your
    browser" link. The page answers only once the campaign is published."""
    if not campaign.news_slug:
        return ""
    return settings.base_url.rstrip("/") + news_path(campaign.news_slug)


@dataclasses.dataclass(frozen=True, slots=True)
class NewsRow:
    """One item of the archive or the feed: what the list shows, without the body."""

    id: int
    subject: str
    slug: str
    published_at: dt.datetime
    summary: str


def summary_of(preheader: str, body: str, limit: int = SUMMARY_LENGTH) -> str:
    """The line shown under a headline: the preheader the fellow wrote, else the start of the body as text."""
    text = " ".join((preheader or "").split())
    if not text:
        # The plain-text reading without what only suits a text email: headings' underlines, *strong* marks.
        lines = [line for line in to_text(body or "").splitlines() if not _UNDERLINE.fullmatch(line.strip())]
        text = _STRONG.sub(r"\1", " ".join(" ".join(lines).split()))
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _columns() -> Select[Any]:
    return select(C.id, C.subject, C.news_slug, C.published_at, C.preheader, C.body)


def _row(r: Any) -> NewsRow:
    return NewsRow(
        id=r.id,
        subject=r.subject or "News",
        slug=r.news_slug,
        published_at=r.published_at,
        summary=summary_of(r.preheader, r.body),
    )


def _search(query: Select[Any], q: str) -> Select[Any]:
    """Each word in the subject, preheader or body (news is a small table: a plain LIKE is enough)."""
    for word in q.split()[:8]:
        pattern = f"%{word}%"
        query = query.where(
            or_(
                C.subject.ilike(pattern, escape="\\"),
                C.preheader.ilike(pattern, escape="\\"),
                C.body.ilike(pattern, escape="\\"),
            )
        )
    return query


def _like_safe(q: str) -> str:
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_news(session: Session, params: ListParams, *, count: bool = False) -> Page:
    """One page of the archive, newest first (keyset paging: one statement, two with ``count``). Items are
    ``NewsRow``s. Without a search the statement is built once and bound per request (``shape``, crm/listing.py)."""
    if params.q:
        query = _search(_columns().where(*_public()), _like_safe(params.q))
        page = fetch_page(session, query, params, SORTS, id_column=C.id, count=count)
    else:
        page = fetch_page(
            session,
            lambda: _columns().where(*_public()),
            params,
            SORTS,
            id_column=C.id,
            count=count,
            shape=("news.public",),
            count_query=lambda: select(C.id).where(*_public()),
            count_tables=COUNTED,
        )
    page.items = [_row(r) for r in page.items]
    return page


def feed_items(session: Session, limit: int = FEED_SIZE) -> list[NewsRow]:
    """The newest published items for the Atom feed (one statement)."""
    rows = session.execute(_columns().where(*_public()).order_by(C.published_at.desc(), C.id.desc()).limit(limit))
    return [_row(r) for r in rows]


def public_item(session: Session, slug: str) -> m.Campaign:
    """The published campaign at ``/news/{slug}``; ``NotFound`` for anything else (a draft, an unpublished
    item, a slug that never existed: the same answer, so nothing about drafts leaks)."""
    campaign = session.scalar(select(C).where(C.news_slug == slug[:220], *_public()))
    if campaign is None:
        raise NotFound("There is no news item at this address.")
    return campaign


def newer_and_older(session: Session, campaign: m.Campaign) -> tuple[NewsRow | None, NewsRow | None]:
    """The items published just after and just before this one (links at the foot of the page)."""
    assert campaign.published_at is not None
    at, cid = campaign.published_at, campaign.id
    newer = session.execute(
        _columns()
        .where(*_public(), or_(C.published_at > at, (C.published_at == at) & (C.id > cid)))
        .order_by(C.published_at, C.id)
        .limit(1)
    ).first()
    older = session.execute(
        _columns()
        .where(*_public(), or_(C.published_at < at, (C.published_at == at) & (C.id < cid)))
        .order_by(C.published_at.desc(), C.id.desc())
        .limit(1)
    ).first()
    return (_row(newer) if newer else None), (_row(older) if older else None)


def rows_published_between(session: Session, since: dt.datetime | None, until: dt.datetime | None) -> Sequence[Any]:
    """Published news items with ``since < published_at`` (and ``<= until``), newest first: the digest's News
    section loads its items with this (one statement per run)."""
    query = _columns().where(*_public())
    if since is not None:
        query = query.where(C.published_at > since)
    if until is not None:
        query = query.where(C.published_at <= until)
    return session.execute(query.order_by(C.published_at.desc(), C.id.desc())).all()
