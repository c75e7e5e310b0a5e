"""The fellow's whole campaign journey in Chromium (issue 16.5): write → preview → choose the audience → test →
send → the email in the outbox as sent → the public news page, with axe on every step."""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import expect

from crm import models as m
from crm.db import unit_of_work
from tests.browser.a11y import horizontal_overflow, serious_violations, unreadable_controls
from tests.digests import helpers as h

pytestmark = pytest.mark.browser


def _checks(page) -> list[str]:
    return serious_violations(page) + unreadable_controls(page) + horizontal_overflow(page) + page.console.errors


def test_write_preview_choose_test_send_and_read_it_as_news(page, live, signed_in):
    with unit_of_work(live.factory) as s:
        h.subscription(s, "bea@example.org", mailings=(m.Mailing.NEWS.value,), name="Bea Reader")
    signed_in(m.Role.ADMIN)
    subject = f"The MRC call is out {secrets.token_hex(3)}"

    page.goto("/admin/campaigns/new")
    page.get_by_label("Subject").fill(subject)
    page.get_by_label("Body").fill("## Briefing\n\nJoin us on **Thursday** to find a partner.")
    page.get_by_label("Also publish on the public news page").check()
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#campaign-preview pre.mail-text")).to_contain_text("Join us on *Thursday*")
    assert _checks(page) == []
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(subject)
    assert _checks(page) == []

    page.get_by_role("link", name="Audience").first.click()
    page.get_by_label("Subscribers to a mailing (by their consent)").check()
    page.get_by_label("Mailing", exact=True).select_option(m.Mailing.NEWS.value)
    page.get_by_role("button", name="Save and preview").click()
    expect(page.locator("main")).to_contain_text(re.compile(r"[\d,]+ people would get this campaign"))
    assert _checks(page) == []

    page.goto(page.url.replace("/audience", "/send"))
    page.get_by_role("button", name="Send a test to me").click()
    expect(page.get_by_role("status")).to_contain_text("A test is on its way to you")
    page.get_by_role("link", name="Send now…").click()
    page.get_by_role("button", name=re.compile(r"Yes, send to [\d,]+ (person|people) now")).click()
    expect(page.get_by_role("status")).to_contain_text("in the outbox")
    assert _checks(page) == []

    live.drain_mail()
    email = live.last_email("bea@example.org", kind="campaign")
    assert email.status == m.OutboxStatus.SENT
    page.goto(f"/admin/mail/{email.id}")
    expect(page.locator("main")).to_contain_text(subject)
    expect(page.locator("main")).to_contain_text("List-Unsubscribe")
    assert _checks(page) == []

    page.goto("/news")
    page.get_by_role("link", name=subject).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(subject)
    expect(page.locator("main")).to_contain_text("Join us on Thursday to find a partner.")
    assert _checks(page) == []
