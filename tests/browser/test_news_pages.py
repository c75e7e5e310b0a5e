"""The public news pages in Chromium: the archive with items and pages, an item with headings, a list, a long
link and the call-to-action button, both with axe, readable controls, no sideways scrolling and a clean console;
the feed is announced to browsers and the navigation leads to News."""

from __future__ import annotations

import datetime as dt
import secrets

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm import models as m
from crm.db import unit_of_work
from tests.browser.a11y import horizontal_overflow, serious_violations, unreadable_controls

pytestmark = pytest.mark.browser

BODY = """The **MRC call** for community mental-health research is out.

# What it funds

- Research led with people who have lived experience
- Partnerships between charities and universities

Read the call at https://example.org/a-very-long-address/that-goes-on-and-on/without-any-breaks-at-all/for-testing-reflow

> Join our briefing on Thursday.
"""


def _published(live, n: int) -> list[tuple[str, str]]:
    """``n`` sent campaigns published as news (unique to this test run): (slug, subject), newest first."""
    tag = secrets.token_hex(3)
    slugs = []
    now = dt.datetime.now(dt.UTC)
    with unit_of_work(live.factory) as s:
        for i in range(n):
            c = m.Campaign(
                subject=f"Briefing {tag} number {i}",
                preheader="" if i % 2 else "A short line about the briefing.",
                body=BODY,
                cta_label="Book a place at the briefing",
                cta_url="https://example.org/book",
                status=m.CampaignStatus.SENT,
                publish_as_news=True,
                news_slug=f"briefing-{tag}-{i}",
                published_at=now - dt.timedelta(minutes=n - i),
                sent_at=now,
            )
            s.add(c)
            slugs.append((c.news_slug, c.subject))
    return list(reversed(slugs))


def _checks(page) -> list[str]:
    return serious_violations(page) + unreadable_controls(page) + horizontal_overflow(page) + page.console.errors


def test_the_news_archive_and_an_item_read_well(page, live):
    items = _published(live, 22)
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="News").click()
    expect(page.get_by_role("heading", level=1, name="News")).to_be_visible()
    assert page.locator('link[rel="alternate"][type="application/atom+xml"]').get_attribute("href") == "/news/feed.xml"
    problems = _checks(page)
    assert not problems, "\n".join(problems)

    page.get_by_role("link", name="Next ›").click()
    expect(page.get_by_role("link", name="‹ Previous")).to_be_visible()

    slug, subject = items[0]
    page.goto(f"/news/{slug}")
    expect(page.get_by_role("heading", level=1)).to_have_text(subject)
    expect(page.get_by_role("heading", level=2, name="What it funds")).to_be_visible()
    expect(page.get_by_role("link", name="Book a place at the briefing")).to_have_attribute(
        "href", "https://example.org/book"
    )
    problems = _checks(page)
    assert not problems, "\n".join(problems)


def test_a_draft_is_not_found_in_the_browser_either(page, live):
    with unit_of_work(live.factory) as s:
        s.add(m.Campaign(subject="Not yet", status=m.CampaignStatus.DRAFT, news_slug=f"not-yet-{secrets.token_hex(3)}"))
    with live.session() as s:
        slug = s.scalar(select(m.Campaign.news_slug).where(m.Campaign.subject == "Not yet").limit(1))
    response = page.goto(f"/news/{slug}")
    assert response is not None and response.status == 404
