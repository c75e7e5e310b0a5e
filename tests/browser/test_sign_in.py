"""Journey: the fellow signs in with a magic link from the outbox, lands on the admin home and signs out."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from crm import models as m

pytestmark = pytest.mark.browser


def test_fellow_signs_in_with_a_magic_link_and_signs_out(page, live):
    email = live.users[m.Role.ADMIN]
    page.goto("/admin")
    # Not signed in: the admin sends us to the sign-in page and remembers where we were going.
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Fadmin$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")

    page.get_by_label("Email address").fill(email.upper())
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")

    stats = live.drain_mail()  # what the worker would do
    assert stats.sent >= 1
    message = live.last_email(email, kind="sign_in")
    assert message.status == m.OutboxStatus.SENT
    link = live.link_in_email(email, kind="sign_in", path="/sign-in/verify")

    # Opening the link only shows a button (mail scanners prefetch links); pressing it signs in.
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Roundtable")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{live.url}/admin")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Sign in")).to_have_count(0)  # the header now offers Sign out

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/sign-in\?signed_out=1$"))
    expect(page.get_by_role("status")).to_have_text("You have signed out.")
    page.goto("/admin")
    expect(page).to_have_url(re.compile(r"/sign-in\?next="))

    # The link worked once: opening it again explains that it has been used.
    page.goto(link)
    expect(page.get_by_text("already been used")).to_be_visible()
    assert page.console.errors == []
