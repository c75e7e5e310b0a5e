"""The capped counts of the directory, funding-call, event and news lists are kept (crm.httpcache.kept, issue 21.1):
a repeated list, or another page of it, reads its page alone; a write to any table the count reads gives a fresh
count at once, and the count is per set of filters."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, update

from crm import models as m
from crm.campaigns import news
from crm.directory import queries as directory
from crm.events import listing as events
from crm.funding import queries as funding
from crm.listing import ListParams, Page
from tests import factories
from tests.events import factories as event_factories
from tests.funding.helpers import make_call

NOW = dt.datetime.now(dt.UTC)


def _read(count_queries: Any, read: Callable[[], Page]) -> tuple[int | None, int]:
    """The list's count and how many statements reading it took."""
    with count_queries() as q:
        page = read()
    return page.total, q.count


def _kept(count_queries: Any, read: Callable[[], Page], total: int) -> None:
    """``read`` counts ``total`` rows, and a second time reads its page alone."""
    first = _read(count_queries, read)
    again = _read(count_queries, read)
    assert first[0] == again[0] == total, (first, again)
    assert again[1] < first[1] and again[1] == 1, (first, again)  # the count is not read again


def _fresh(count_queries: Any, read: Callable[[], Page], total: int) -> None:
    """After a write: the count is read again (the page and its count) and is ``total``."""
    assert _read(count_queries, read) == (total, 2)
    assert _read(count_queries, read) == (total, 1)  # and kept again


def test_the_directory_count_is_kept_until_a_table_it_reads_is_written(db, count_queries):
    factories.organisation(db, "Kept Alder", region_name="London", topics=("Carers",))
    birch = factories.organisation(db, "Kept Birch", region_name="Wales")
    factories.organisation(db, "Kept private", topics=("Carers",), visibility=m.Visibility.PRIVATE)
    db.commit()

    def directory_list(**filters: str) -> Callable[[], Page]:
        params = ListParams(page_size=1, filters=filters)
        return lambda: directory.list_organisations(db, params, public=True, count=True)

    everyone, carers, london = directory_list(), directory_list(topic="carers"), directory_list(region="london")
    _kept(count_queries, everyone, 2)
    _kept(count_queries, carers, 1)
    _kept(count_queries, london, 1)
    cursor = everyone().next_cursor
    assert cursor and _read(
        count_queries,
        lambda: directory.list_organisations(db, ListParams(page_size=1, cursor=cursor), public=True, count=True),
    ) == (2, 1)  # every page shares the count
    factories.organisation(db, "Kept Cedar")  # organisations
    db.commit()
    _fresh(count_queries, everyone, 3)
    db.execute(
        m.organisation_topics.insert().values(organisation_id=birch.id, topic_id=factories.topic(db, "Carers").id)
    )
    db.commit()  # organisation_topics
    _fresh(count_queries, carers, 2)
    db.execute(update(m.Topic).where(m.Topic.slug == "carers").values(slug="carers-renamed"))
    db.commit()  # topics: no topic is called "carers" now
    _fresh(count_queries, carers, 0)
    db.execute(update(m.Region).where(m.Region.slug == "london").values(slug="london-renamed"))
    db.commit()  # regions
    _fresh(count_queries, london, 0)
    assert _read(count_queries, everyone) == (3, 1)  # the unfiltered list reads neither topics nor regions


def test_the_funding_count_is_kept_until_a_table_it_reads_is_written(db, count_queries):
    trust = factories.organisation(db, "Kept Trust", m.OrgKind.FUNDER)
    in_london = make_call(db, trust, "Kept London call", now=NOW, deadlines=[("Full", NOW + dt.timedelta(days=9))],
                          topics=["Carers"], regions=["London"])  # fmt: skip
    make_call(db, trust, "Kept UK call", now=NOW, deadlines=[("Full", NOW + dt.timedelta(days=19))],
              topics=["Carers"], regions=["UK-wide"])  # fmt: skip
    make_call(db, trust, "Kept draft", now=NOW, status=m.CallStatus.DRAFT, topics=["Carers"])
    db.commit()

    def calls(**filters: str) -> Callable[[], Page]:
        params = ListParams(page_size=1, filters=filters)
        return lambda: funding.list_calls(db, params, now=NOW, count=True)

    everyone, carers, london, by_trust = (
        calls(),
        calls(topic="carers"),
        calls(region="london"),
        calls(funder=trust.slug),
    )
    for read in (everyone, carers, london, by_trust):
        _kept(count_queries, read, 2)
    make_call(db, trust, "Kept later call", now=NOW, deadlines=[("Full", NOW + dt.timedelta(days=29))])
    db.commit()  # funding_calls
    _fresh(count_queries, everyone, 3)
    db.execute(delete(m.funding_call_topics).where(m.funding_call_topics.c.call_id == in_london.id))
    db.commit()  # funding_call_topics
    _fresh(count_queries, carers, 1)
    db.execute(update(m.Topic).where(m.Topic.slug == "carers").values(slug="carers-renamed"))
    db.commit()  # topics
    _fresh(count_queries, carers, 0)
    db.execute(delete(m.funding_call_regions).where(m.funding_call_regions.c.call_id == in_london.id))
    db.commit()  # funding_call_regions: the UK-wide call is still open to London
    _fresh(count_queries, london, 1)
    db.execute(update(m.Region).where(m.Region.slug == "london").values(slug="london-renamed"))
    db.execute(m.funding_call_regions.insert().values(call_id=in_london.id, region_id=factories.region_id(db, "UKI")))
    db.commit()  # regions (and the link back): a London call, but no region is "london" now; UK-wide still counts
    _fresh(count_queries, london, 1)
    db.execute(update(m.Organisation).where(m.Organisation.id == trust.id).values(slug="kept-trust-renamed"))
    db.commit()  # organisations
    _fresh(count_queries, by_trust, 0)


def test_the_event_and_news_counts_are_kept_until_events_or_campaigns_are_written(app, db, count_queries):
    for i in range(3):
        event_factories.event(db, app, now=NOW, days=i + 1, title=f"Kept event {i}")
    for i in range(2):
        db.add(_news(i))
    db.commit()
    upcoming = lambda: events.public_list(db, ListParams(page_size=1), NOW, count=True)  # noqa: E731
    archive = lambda: news.list_news(db, ListParams(page_size=1), count=True)  # noqa: E731
    _kept(count_queries, upcoming, 3)
    _kept(count_queries, archive, 2)
    assert _read(count_queries, lambda: events.public_list(db, ListParams(sort="latest"), NOW, count=True)) == (3, 1)
    event_factories.event(db, app, now=NOW, days=9, title="Kept event later")
    db.commit()  # events
    _fresh(count_queries, upcoming, 4)
    assert _read(count_queries, archive) == (2, 1)  # campaigns were not written
    db.add(_news(2))
    db.commit()  # campaigns
    _fresh(count_queries, archive, 3)


def _news(i: int) -> m.Campaign:
    return m.Campaign(subject=f"Kept news {i}", preheader="", body="Kept.", status=m.CampaignStatus.SENT,
                      publish_as_news=True, news_slug=f"kept-news-{i}", published_at=NOW - dt.timedelta(days=i),
                      sent_at=NOW)  # fmt: skip
