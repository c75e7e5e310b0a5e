"""The fellow writes a campaign in Chromium: the preview follows her typing (htmx), the email shows whole in its
sandboxed frame with the text part beside it, a bad link is named before she saves, and the saved draft's page
shows the email and its history. axe, readable controls, no sideways scrolling and a clean console throughout."""

from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm import models as m
from crm.db import unit_of_work
from tests.browser.a11y import horizontal_overflow, serious_violations, unreadable_controls

pytestmark = pytest.mark.browser

FRAME_JS = """() => {
  const frame = document.querySelector('#campaign-preview iframe.mail-frame');
  const doc = frame && frame.contentDocument;
  if (!doc || !doc.body) return null;
  return {frame: frame.getBoundingClientRect().height, content: doc.documentElement.scrollHeight,
          text: doc.body.innerText};
}"""


def _checks(page) -> list[str]:
    return serious_violations(page) + unreadable_controls(page) + horizontal_overflow(page) + page.console.errors


def test_the_fellow_writes_a_campaign_with_a_live_preview(page, live, signed_in):
    signed_in(m.Role.ADMIN)
    subject = f"The MRC call is out {secrets.token_hex(3)}"
    page.goto("/admin/campaigns")
    page.get_by_role("link", name="New campaign").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New campaign")
    assert _checks(page) == []

    page.get_by_label("Subject").fill(subject)
    page.get_by_label("Preview text").fill("Join our briefing on Thursday")
    page.get_by_label("Body").fill(
        "# Briefing\n\nCome on **Thursday**: [read the call](javascript:alert(1)).\n\n"
        "- Lived experience\n- Partnerships\n\n![The panel at last year's briefing](https://example.org/p.jpg)"
    )
    # No click: the preview follows the typing.
    expect(page.locator("#campaign-preview .notice")).to_contain_text("javascript: address")
    page.wait_for_function(
        "() => { const f = document.querySelector('#campaign-preview iframe.mail-frame');"
        " return f && f.contentDocument && f.contentDocument.body"
        " && f.contentDocument.body.innerText.includes('Briefing'); }"
    )
    page.wait_for_timeout(150)  # the frame's load handler fits its height
    sizes = page.evaluate(FRAME_JS)
    assert sizes["frame"] >= sizes["content"], sizes  # the whole email shows, footer included
    assert "Picture: The panel at last year's briefing" in sizes["text"]
    assert "javascript" not in page.evaluate(
        "() => document.querySelector('#campaign-preview iframe').contentDocument.documentElement.outerHTML"
    )
    text_part = page.locator("#campaign-preview pre.mail-text")
    expect(text_part).to_contain_text("Briefing\n========")
    expect(text_part).to_contain_text("- Lived experience\n- Partnerships")

    # Saving with the bad link is refused beside the body; fixing it saves the draft.
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator(".error-summary")).to_contain_text("javascript: address")
    assert _checks(page) == []
    page.get_by_label("Body").fill(
        "# Briefing\n\nCome on **Thursday**: [read the call](https://example.org/call).\n\n- Lived experience"
    )
    page.get_by_label("Button label").fill("Book a place")
    page.get_by_label("Button link").fill("https://example.org/book")
    expect(page.locator("#campaign-preview pre.mail-text")).to_contain_text("Book a place: https://example.org/book")
    page.get_by_role("button", name="Save draft").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(subject)
    expect(page.locator(".notice")).to_contain_text("Draft saved.")
    expect(page.locator("pre.mail-text")).to_contain_text("read the call (https://example.org/call)")
    expect(page.locator(".history")).to_contain_text(f"Subject: set to {subject}")
    assert _checks(page) == []
    with unit_of_work(live.factory) as s:
        saved = s.scalar(select(m.Campaign).where(m.Campaign.subject == subject))
        assert saved is not None and saved.status == m.CampaignStatus.DRAFT and saved.cta_label == "Book a place"
