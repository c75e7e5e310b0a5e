"""News lives on: publishing a sent campaign, the public /news archive and pages, the Atom feed, the navigation,
and the "News and announcements" mailing at /subscribe and in the preference centre."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import select

from crm import models as m
from crm.campaigns import news
from crm.errors import FieldErrors
from crm.mailing import compliance, consent
from tests.conftest import post_form

NS = {"a": "http://www.w3.org/2005/Atom"}
NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
_seq = itertools.count(1)


def campaign(
    db,
    subject: str = "",
    *,
    published_at: dt.datetime | None = NOW,
    status: m.CampaignStatus = m.CampaignStatus.SENT,
    slug: str | None = "",
    body: str = "The MRC call is out. **Join** our briefing on Thursday.",
    preheader: str = "",
    cta: tuple[str, str] = ("", ""),
) -> m.Campaign:
    n = next(_seq)
    subject = subject or f"Invented announcement {n}"
    c = m.Campaign(
        subject=subject,
        preheader=preheader,
        body=body,
        cta_label=cta[0],
        cta_url=cta[1],
        status=status,
        publish_as_news=published_at is not None,
        news_slug=f"news-{n}" if slug == "" else slug,
        published_at=published_at,
        sent_at=NOW if status == m.CampaignStatus.SENT else None,
    )
    db.add(c)
    db.flush()
    return c


def test_publish_gives_a_unique_slug_from_the_subject_and_is_idempotent(db):
    first = campaign(db, "The MRC call is out!", published_at=None, slug=None)
    second = campaign(db, "The MRC call is out!", published_at=None, slug=None)
    news.publish(db, first, NOW)
    news.publish(db, second, NOW + dt.timedelta(minutes=5))
    assert (first.news_slug, second.news_slug) == ("the-mrc-call-is-out", "the-mrc-call-is-out-2")
    assert first.published_at == NOW and first.publish_as_news
    news.publish(db, first, NOW + dt.timedelta(days=1))  # a resumed send publishes again: nothing changes
    assert (first.news_slug, first.published_at) == ("the-mrc-call-is-out", NOW)
    news.unpublish(db, first)
    assert first.published_at is None and first.news_slug == "the-mrc-call-is-out"  # the address stays reserved
    news.publish(db, first, NOW + dt.timedelta(days=2))
    assert first.news_slug == "the-mrc-call-is-out"
    odd = campaign(db, "«»", published_at=None, slug=None)
    news.publish(db, odd, NOW)
    assert odd.news_slug == "news"


def test_publish_refuses_a_campaign_that_was_not_sent(db, settings):
    draft = campaign(db, "Draft news", published_at=None, slug=None, status=m.CampaignStatus.DRAFT)
    with pytest.raises(FieldErrors):
        news.publish(db, draft, NOW)
    assert draft.news_slug is None and draft.published_at is None
    assert news.news_url(settings, draft) == ""
    sent = campaign(db, "Sent news", published_at=None, slug=None)
    news.publish(db, sent, NOW)
    assert news.news_url(settings, sent) == "http://testserver.local/news/sent-news"


def test_an_item_page_shows_the_subject_date_sanitised_body_and_the_button(client, db):
    c = campaign(
        db,
        "Briefing on the MRC call",
        body="# What it funds\n\nCommunity research. <script>alert(1)</script> [bad](javascript:alert(1))",
        cta=("Book a place", "https://example.org/book"),
    )
    db.commit()
    page = client.get(f"/news/{c.news_slug}")
    assert page.status_code == 200
    html = page.text
    assert "<h1>Briefing on the MRC call</h1>" in html
    assert 'datetime="2026-12-01T10:00:00+00:00">1 December 2026</time>' in html
    assert "<h2>What it funds</h2>" in html and "<script>alert" not in html and "javascript:" not in html
    assert '<a class="button" href="https://example.org/book">Book a place</a>' in html
    assert 'rel="alternate" type="application/atom+xml"' in html and 'href="/news/feed.xml"' in html
    assert '<a href="/news">News</a>' in html  # in the site's navigation


def test_a_call_to_action_with_an_unsafe_address_is_left_out(client, db):
    c = campaign(db, "Unsafe button", cta=("Click", "javascript:alert(1)"))
    db.commit()
    html = client.get(f"/news/{c.news_slug}").text
    assert 'class="button"' not in html and "javascript:" not in html


@pytest.mark.parametrize(
    "state",
    ["draft", "scheduled", "cancelled", "unpublished", "never"],
)
def test_anything_not_published_is_not_found(client, db, state):
    status = {"draft": m.CampaignStatus.DRAFT, "scheduled": m.CampaignStatus.SCHEDULED}.get(
        state, m.CampaignStatus.CANCELLED if state == "cancelled" else m.CampaignStatus.SENT
    )
    # A draft whose stored fields say "published" (copied, or written another way) is still not public.
    if state != "never":
        c = campaign(db, f"Hidden {state}", status=status, published_at=None if state == "unpublished" else NOW)
    db.commit()
    slug = "no-such-news" if state == "never" else c.news_slug
    page = client.get(f"/news/{slug}")
    assert page.status_code == 404
    assert f"Hidden {state}" not in client.get("/news").text
    assert f"Hidden {state}" not in client.get("/news/feed.xml").text


def test_the_archive_is_newest_first_with_pages_and_a_count(client, db, count_queries):
    for i in range(25):
        campaign(db, f"Announcement number {i:02d}", published_at=NOW - dt.timedelta(days=25 - i))
    db.commit()
    with count_queries() as q:
        first = client.get("/news")
    assert first.status_code == 200
    assert q.count <= 2  # the page and its capped count (anonymous: no session look-up)
    titles = re.findall(r'<h2><a href="/news/[^"]+">([^<]+)</a></h2>', first.text)
    assert titles[:2] == ["Announcement number 24", "Announcement number 23"] and len(titles) == 20
    assert "25 news items" in first.text
    next_link = re.search(r'<a rel="next" href="(/news\?[^"]+)"', first.text)
    assert next_link
    second = client.get(next_link.group(1).replace("&amp;", "&"))
    rest = re.findall(r'<h2><a href="/news/[^"]+">([^<]+)</a></h2>', second.text)
    assert rest == [f"Announcement number {i:02d}" for i in (4, 3, 2, 1, 0)]
    assert 'rel="prev"' in second.text and 'rel="next"' not in second.text
    oldest = client.get("/news?sort=oldest").text
    assert re.findall(r'<h2><a href="/news/[^"]+">([^<]+)</a></h2>', oldest)[0] == "Announcement number 00"


def test_the_archive_without_a_search_is_built_once_per_sort_and_kind_of_page(client, db, count_queries, monkeypatch):
    """The same archive pages (order, paging, count) from statements built once and bound per request: asking for
    the same pages again builds nothing, and every page still costs the page and its count."""
    for i in range(25):
        campaign(db, f"Bulletin {i:02d}", published_at=NOW - dt.timedelta(days=25 - i))
    campaign(db, "Never sent", status=m.CampaignStatus.DRAFT, published_at=NOW)
    db.commit()
    built: list[int] = []
    columns = news._columns
    monkeypatch.setattr(news, "_columns", lambda: built.append(1) or columns())
    no_store = {"Cache-Control": "no-cache"}  # past the stored public answers: every request runs the handler

    def walk(url: str) -> tuple[list[str], list[int]]:
        seen, statements = [], []
        while url:
            with count_queries() as q:
                page = client.get(url, headers=no_store)
            assert page.status_code == 200 and "25 news items" in page.text
            statements.append(q.count)
            seen += re.findall(r'<h2><a href="/news/[^"]+">([^<]+)</a></h2>', page.text)
            found = re.search(r'<a rel="next" href="(/news\?[^"]+)"', page.text)
            url = found.group(1).replace("&amp;", "&") if found else ""
        return seen, statements

    newest = [f"Bulletin {i:02d}" for i in reversed(range(25))]
    # the page and its count, the count kept for every later page of either sort (crm.httpcache.kept)
    assert walk("/news?page_size=10") == (newest, [2, 1, 1])
    assert walk("/news?sort=oldest") == (newest[::-1], [1, 1])
    assert len(built) <= 4  # each sort's first and later pages
    before = len(built)
    assert walk("/news?page_size=10")[0] == newest and walk("/news?sort=oldest")[0] == newest[::-1]
    assert len(built) == before


def test_the_archive_shows_summaries_searches_and_answers_htmx_with_the_results(client, db):
    campaign(db, "Peer research fund", preheader="Money for peer researchers.")
    campaign(db, "Autumn gathering", body="Come to **Leeds** for the [autumn](https://example.org) meet-up.")
    db.commit()
    page = client.get("/news").text
    assert "Money for peer researchers." in page
    assert "Come to Leeds for the autumn (https://example.org) meet-up." in page  # the body's plain text
    found = client.get("/news?q=leeds").text
    assert "Autumn gathering" in found and "Peer research fund" not in found
    fragment = client.get("/news?q=peer", headers={"hx-request": "true"})
    assert "Peer research fund" in fragment.text and "<html" not in fragment.text
    none = client.get("/news?q=zzz%25_").text  # LIKE wildcards are taken literally
    assert "No news matches" in none


def test_the_archive_has_a_calm_empty_state(client, db):
    page = client.get("/news")
    assert page.status_code == 200
    assert "There is no news yet" in page.text and 'href="/subscribe"' in page.text
    assert 'rel="alternate" type="application/atom+xml"' in page.text


def test_the_feed_is_valid_atom_newest_first(client, db):
    campaign(db, "Older news & views", preheader="An <older> item.", published_at=NOW - dt.timedelta(days=3))
    newest = campaign(db, "Newest news", published_at=NOW)
    campaign(db, "A draft", status=m.CampaignStatus.DRAFT)
    db.commit()
    response = client.get("/news/feed.xml")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    root = ET.fromstring(response.content)
    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
    assert root.find("a:title", NS).text == "Roundtable news"
    assert root.find("a:link[@rel='self']", NS).get("href") == "http://testserver.local/news/feed.xml"
    assert root.find("a:updated", NS).text == "2026-12-01T10:00:00Z"
    entries = root.findall("a:entry", NS)
    assert [e.find("a:title", NS).text for e in entries] == ["Newest news", "Older news & views"]
    top = entries[0]
    assert top.find("a:id", NS).text == f"http://testserver.local/news/{newest.news_slug}"
    assert top.find("a:link", NS).get("href") == f"http://testserver.local/news/{newest.news_slug}"
    assert top.find("a:published", NS).text == "2026-12-01T10:00:00Z"
    assert entries[1].find("a:summary", NS).text == "An <older> item."
    for entry in entries:  # RFC 4287: every entry has an id, a title and an updated date
        assert all(entry.find(f"a:{name}", NS) is not None for name in ("id", "title", "updated"))


def test_the_feed_of_no_news_is_still_a_feed(client, db):
    root = ET.fromstring(client.get("/news/feed.xml").content)
    assert root.findall("a:entry", NS) == [] and root.find("a:updated", NS).text


def test_subscribing_to_news_end_to_end_and_the_preference_centre_offers_it(client, db, app, settings):
    form = client.get("/subscribe").text
    assert 'value="news"' in form and "News and announcements" in form
    r = post_form(
        client,
        "/subscribe",
        {
            "email": "Robin@Example.org",
            "name": "Robin Example",
            "mailings": ["news"],
            "frequency": "weekly",
            "consent": "yes",
            "consent_version": consent.CONSENT_VERSION,
        },
    )
    assert r.status_code == 200 and "Check your email" in r.text
    message = db.scalar(
        select(m.OutboxMessage).where(
            m.OutboxMessage.recipient == "robin@example.org", m.OutboxMessage.kind == "subscription_confirm"
        )
    )
    link = re.search(r"(/subscribe/confirm/[A-Za-z0-9_.\-]+)", message.text_body).group(1)
    done = post_form(client, link)
    assert done.status_code == 200 and "You are subscribed" in done.text
    db.expire_all()
    sub = db.scalar(select(m.Subscription).where(m.Subscription.email == "robin@example.org"))
    assert sub.status == m.SubscriptionStatus.ACTIVE and sub.mailings == ["news"]
    url = compliance.preferences_url(app.state.signer, settings, "robin@example.org")
    page = client.get("/" + url.split("://", 1)[1].split("/", 1)[1]).text
    assert re.search(r'value="news" checked> News and announcements', page)
