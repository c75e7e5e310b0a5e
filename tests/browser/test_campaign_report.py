"""A campaign's report in Chromium: with the local transport (delivery and engagement "not reported") and with a
reporting transport (figures, the first week's chart with its table, clicks per link), both with axe, readable
controls, no sideways scrolling at narrow widths and a clean console; the CSV link downloads the recipients."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from crm import models as m
from crm.db import unit_of_work
from tests.browser.a11y import horizontal_overflow, serious_violations, unreadable_controls
from tests.campaigns.report_data import START, campaign, event, post_events

pytestmark = pytest.mark.browser
H = dt.timedelta(hours=1)
LONG_URL = "https://example.org/a-very-long-address/that-goes-on-and-on/without-any-breaks-at-all/for-testing-reflow"


def _campaign(live) -> int:
    with unit_of_work(live.factory) as s:
        sent = campaign(s, 4, contacts=1, subject="The MRC call is out: join our briefing on Thursday")
        o0, o1, o2, o3 = sent.outbox
        o3.status = m.OutboxStatus.SUPPRESSED
        post_events(
            s,
            [
                event(o0, "delivered", START + H),
                event(o1, "delivered", START + H),
                event(o0, "open", START + 2 * H),
                event(o1, "open", START + dt.timedelta(days=1, hours=3)),
                event(o0, "click", START + 2 * H, url=LONG_URL),
                event(o0, "click", START + 3 * H, url="https://www.ukri.org/mrc"),
                event(o2, "bounce", START + H, type="bounce"),
            ],
        )
        return sent.campaign.id


def _checks(page) -> list[str]:
    return serious_violations(page) + unreadable_controls(page) + horizontal_overflow(page) + page.console.errors


def test_the_report_says_what_is_not_reported_and_reads_well(page, live, signed_in):
    campaign_id = _campaign(live)
    signed_in(m.Role.ADMIN)
    page.goto(f"/admin/campaigns/{campaign_id}/report")
    expect(page.get_by_role("heading", level=1)).to_contain_text("The MRC call is out")
    expect(page.get_by_text("Delivery and engagement are not reported")).to_be_visible()
    expect(page.get_by_role("row", name="Delivered Not reported")).to_be_visible()
    assert page.locator("svg.chart").count() == 0
    problems = _checks(page)
    assert not problems, "\n".join(problems)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download recipients and their status (CSV)").click()
    assert download.value.suggested_filename.startswith(f"campaign-{campaign_id}-recipients")


def test_with_a_reporting_transport_the_chart_and_links_read_well(page, live, signed_in):
    campaign_id = _campaign(live)
    signed_in(m.Role.ADMIN)
    original = live.app.state.settings
    live.app.state.settings = original.replace(
        mail_transport="sendgrid", sendgrid_api_key="SG.test", sendgrid_webhook_public_key="MFkwEwYHKoZIzj0CAQ=="
    )
    try:
        page.goto(f"/admin/campaigns/{campaign_id}/report")
        chart = page.get_by_role("img", name="Delivered, opened and clicked in the first 7 days")
        expect(chart).to_be_visible()
        expect(
            page.get_by_role("table", name="People per day, in 24-hour periods from the start of sending")
        ).to_be_visible()
        expect(page.get_by_role("heading", level=2, name="Clicks per link")).to_be_visible()
        expect(page.get_by_role("cell", name=LONG_URL)).to_be_visible()
        problems = _checks(page)
        assert not problems, "\n".join(problems)
    finally:
        live.app.state.settings = original
