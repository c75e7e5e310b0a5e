"""Journey, by keyboard alone: a charity worker subscribes, confirms from the email in the outbox, opens the
preferences page from the confirmation, and unsubscribes from everything. No mouse click anywhere: Tab moves
focus, Space ticks a box, Enter submits or follows a link."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm import models as m
from tests.browser.keyboard import tab_to

pytestmark = pytest.mark.browser


def test_subscribe_confirm_and_unsubscribe_by_keyboard(page, live):
    response = page.goto("/subscribe")
    if response is None or response.status == 404:
        pytest.skip("the subscribe page is not built yet")
    email = "charity.worker@example.org"
    tab_to(page, "#f-email")
    page.keyboard.type(email)
    tab_to(page, "#f-name")
    page.keyboard.type("Charity Worker")
    tab_to(page, "input[name=mailings]")
    if not page.evaluate("() => document.activeElement.checked"):
        page.keyboard.press("Space")
    tab_to(page, "#f-consent-box")
    page.keyboard.press("Space")
    tab_to(page, "button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")

    live.drain_mail()
    link = live.link_in_email(email, kind="subscription_confirm")
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your subscription")
    tab_to(page, "main button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("You are subscribed")

    tab_to(page, "main a[href*='/preferences/']")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your email preferences")
    tab_to(page, "button[value=unsubscribe_all]")
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_contain_text("nsubscribe")

    with live.session() as s:
        statuses = set(s.scalars(select(m.Subscription.status).where(m.Subscription.email == email)))
    assert statuses == {m.SubscriptionStatus.UNSUBSCRIBED}, statuses
    assert page.console.errors == []
