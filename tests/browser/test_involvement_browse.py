"""Journey, by keyboard alone: someone with lived experience browses the involvement opportunities, narrows them
with the filters, opens one, sends the form without ticking consent (the message comes back tied to the box,
nothing typed is lost), ticks it and expresses interest. No mouse: Tab moves focus, typing picks from a menu, Space
ticks a box, Enter submits or follows a link. Every page is checked with axe, for reflow at 360 px and for a clean
console."""

from __future__ import annotations

import datetime as dt
import re
import secrets

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm import models as m
from crm.db import unit_of_work
from crm.involvement import editing
from crm.involvement.rules import london_today
from tests.browser.a11y import horizontal_overflow, serious_violations, unreadable_controls
from tests.browser.keyboard import tab_to

pytestmark = pytest.mark.browser


def problems(page) -> list[str]:
    return serious_violations(page) + unreadable_controls(page) + horizontal_overflow(page) + page.console.errors


def _opportunity(live, word: str) -> str:
    """A paid, online opportunity with a word no other test uses (the live database is shared); its slug."""
    today = london_today(dt.datetime.now(dt.UTC))
    with unit_of_work(live.factory) as s:
        data, errors = editing.validate(
            s,
            {
                "title": f"Advisory panel on crisis care {word}",
                "kind": "advisory-group",
                "summary": "Help shape a study of crisis services.",
                "lived_experience_sought": "You have used a crisis service in the last five years.",
                "what_you_will_do": "Four online meetings a year, two hours each.",
                "online": "1",
                "paid": "1",
                "payment_amount": "25",
                "payment_basis": "meeting",
                "expenses_covered": "1",
                "commitment": "ongoing",
                "accessibility_support": "Cameras optional; papers in easy read.",
                "closing_date": (today + dt.timedelta(days=20)).isoformat(),
                "contact_name": "Dr Poster",
                "contact_email": f"poster.{word}@example.org",
            },
            today=today,
        )
        assert data is not None, errors
        return editing.create(s, data, status=m.OpportunityStatus.PUBLISHED).slug


def test_browse_filter_and_express_interest_by_keyboard(page, live):
    word = f"kb{secrets.token_hex(3)}"
    slug = _opportunity(live, word)
    email = f"lived.{word}@example.org"

    page.goto("/involvement")
    expect(page.get_by_role("heading", level=1)).to_have_text("Involvement opportunities")
    assert problems(page) == []

    tab_to(page, "#f-q")
    page.keyboard.type(word)
    tab_to(page, "#f-pay")
    page.keyboard.type("Paid")  # picks "Paid" from the menu, as typing does on a focused select
    tab_to(page, "form[role=search] button[type=submit]")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"q={word}.*pay=paid|pay=paid.*q={word}"))
    expect(page.locator("#results")).to_contain_text("1 open opportunity")
    expect(page.locator("#results")).to_contain_text("£25 per meeting, plus expenses")
    assert problems(page) == []

    tab_to(page, f"#results a[href='/involvement/{slug}']")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Advisory panel on crisis care {word}")
    expect(page.locator("main")).to_contain_text("The lived experience we are looking for")
    expect(page.locator("main")).to_contain_text("Getting benefits?")
    assert f"poster.{word}@example.org" not in page.content()
    assert problems(page) == []

    tab_to(page, "#f-name")
    page.keyboard.type("Robin Example")
    tab_to(page, "#f-email")
    page.keyboard.type(email)
    tab_to(page, "#f-note")
    page.keyboard.type("I have used a crisis team twice.")
    tab_to(page, "#f-access_needs")
    page.keyboard.type("Breaks every hour, please.")
    tab_to(page, "main form[method=post] button[type=submit]")
    page.keyboard.press("Enter")

    # No consent: the form comes back with the message tied to the box and everything typed still there.
    expect(page.get_by_role("alert")).to_contain_text("Tick the box to agree")
    expect(page.locator("#f-email")).to_have_value(email)
    expect(page.locator("#f-note")).to_have_value("I have used a crisis team twice.")
    expect(page.locator("#f-consent")).to_have_attribute("aria-invalid", "true")
    assert problems(page) == []
    tab_to(page, "#f-consent")
    page.keyboard.press("Space")
    tab_to(page, "main form[method=post] button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you, we have passed on your interest")
    expect(page.locator("main")).to_contain_text(email)
    assert problems(page) == []

    # The same again is not an error: "you already told us", nothing lost, nothing sent twice.
    page.goto(f"/involvement/{slug}")
    tab_to(page, "#f-name")
    page.keyboard.type("Robin Example")
    tab_to(page, "#f-email")
    page.keyboard.type(email.upper())
    tab_to(page, "#f-consent")
    page.keyboard.press("Space")
    tab_to(page, "main form[method=post] button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("You already told us you are interested")

    with live.session() as s:
        rows = s.execute(
            select(m.InvolvementInterest.note, m.InvolvementInterest.access_needs)
            .join(m.InvolvementOpportunity, m.InvolvementOpportunity.id == m.InvolvementInterest.opportunity_id)
            .where(m.InvolvementOpportunity.slug == slug)
        ).all()
    assert [tuple(r) for r in rows] == [("I have used a crisis team twice.", "Breaks every hour, please.")]
    told = live.last_email(f"poster.{word}@example.org", kind="involvement_interest")
    assert "Robin Example" in told.text_body and email not in told.text_body
