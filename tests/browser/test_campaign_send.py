"""The campaign send page in Chromium: test to me, the confirmation step, send now, schedule in the past refused,
all with axe, readable controls, no sideways scrolling and a clean console (issue 16)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from crm import models as m
from crm.campaigns.audience_segment import Segment
from crm.db import unit_of_work
from tests.browser.a11y import horizontal_overflow, serious_violations, unreadable_controls
from tests.digests import helpers as h

pytestmark = pytest.mark.browser


def _checks(page) -> list[str]:
    return serious_violations(page) + unreadable_controls(page) + horizontal_overflow(page) + page.console.errors


def _campaign(live) -> int:
    with unit_of_work(live.factory) as s:
        h.subscription(s, "ann@example.org", mailings=(m.Mailing.NEWS.value,), name="Ann Reader")
        c = m.Campaign(
            subject="The MRC call is out",
            body="Join our **briefing** on Thursday.",
            audience=Segment(subscribers=True, mailing=m.Mailing.NEWS.value).to_json(),
        )
        s.add(c)
        s.flush()
        return c.id


def test_test_confirm_send_and_refusals_read_well(page, live, signed_in):
    campaign_id = _campaign(live)
    signed_in(m.Role.ADMIN)
    page.goto(f"/admin/campaigns/{campaign_id}/send")
    expect(page.get_by_text(re.compile(r"[\d,]+ (person|people) would get this campaign"))).to_be_visible()
    problems = _checks(page)
    assert not problems, "\n".join(problems)
    page.get_by_role("button", name="Send a test to me").click()
    expect(page.get_by_role("status")).to_contain_text("A test is on its way to you")
    page.get_by_label("Send at (London time)").fill("2020-01-01T09:00")
    page.get_by_role("button", name="Schedule").click()
    expect(page.get_by_role("alert")).to_contain_text("has already passed")
    problems = _checks(page)
    assert not problems, "\n".join(problems)
    page.get_by_role("link", name="Send now…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Send to [\d,]+ (person|people) now\?"))
    problems = _checks(page)
    assert not problems, "\n".join(problems)
    page.get_by_role("button", name=re.compile(r"Yes, send to [\d,]+ (person|people) now")).click()
    expect(page.get_by_role("status")).to_contain_text(re.compile(r"Sent: [\d,]+ (person is|people are) in the outbox"))
    problems = _checks(page)
    assert not problems, "\n".join(problems)
    live.drain_mail()
    email = live.last_email("ann@example.org", kind="campaign")
    assert email.status == m.OutboxStatus.SENT and email.subject == "The MRC call is out"
