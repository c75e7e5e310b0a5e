"""Internship journeys in the browser.

* An early career researcher filters the internships, opens one and registers interest (the consent box is
  required; the interest is stored and the host is emailed through the outbox).
* A researcher finds an internship with the filters, opens it, registers interest and follows "Get alerts for
  this search"; the host editor sees the registration.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from crm import models as m
from crm.accounts.services import create_session
from crm.db import unit_of_work
from crm.web.auth import SESSION_COOKIE

pytestmark = pytest.mark.browser

LISTING = "Peer support evaluation placement"  # demo data: researcher → VCSE, published, closing in 5 days
OTHER_DIRECTION = "Lived experience researcher in a psychosis trial team"


def test_researcher_filters_internships_and_registers_interest(page, live):
    response = page.goto("/internships")
    if response is None or response.status == 404:
        pytest.skip("the internships list is not built yet")
    page.get_by_label("Pay").select_option("paid")
    page.get_by_role("button", name=re.compile("Show|Search|Filter|Apply", re.I)).first.click()
    expect(page).to_have_url(re.compile(r"paid=paid"))
    results = page.locator("#results h2 a")
    expect(results.first).to_be_visible()
    title = results.first.inner_text().strip()
    results.first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    slug = page.url.rstrip("/").rsplit("/", 1)[-1]

    email = "early.researcher@example.org"
    page.get_by_label("Your name").fill("Early Researcher")
    page.get_by_label("Your email address").fill(email)
    page.get_by_label("A short note for the host").fill("I would like to help with interviews.")
    page.get_by_role("button", name="Register interest").click()
    # Without consent the form comes back with a message tied to the box, and nothing is stored.
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    expect(page.get_by_label("Your email address")).to_have_value(email)
    page.locator("#f-consent").check()
    page.get_by_role("button", name="Register interest").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("your interest is registered")

    with live.session() as s:
        stored = s.scalar(
            select(func.count())
            .select_from(m.InternshipInterest)
            .join(m.Internship, m.Internship.id == m.InternshipInterest.internship_id)
            .where(m.Internship.slug == slug, m.InternshipInterest.email == email)
        )
    assert stored == 1
    assert page.console.errors == []


def test_researcher_finds_registers_interest_and_host_sees_it(page, context, live):
    page.goto("/internships")
    expect(page.get_by_role("heading", level=1)).to_have_text("Internships")
    expect(page.get_by_role("link", name=OTHER_DIRECTION)).to_be_visible()

    # Filtering swaps the results in place (htmx) and keeps the URL shareable.
    page.get_by_label("Who it is for").select_option("researcher-to-vcse")
    expect(page.get_by_role("link", name=OTHER_DIRECTION)).to_have_count(0)
    expect(page).to_have_url(re.compile(r"direction=researcher-to-vcse"))
    card = page.locator(".card", has=page.get_by_role("link", name=LISTING))
    expect(card).to_contain_text("Closes")
    expect(card).to_contain_text("£250 a week")

    page.get_by_role("link", name=LISTING).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(LISTING)
    data = json.loads(page.locator('script[type="application/ld+json"]').text_content())
    assert data["@type"] == "JobPosting" and data["title"] == LISTING

    page.get_by_label("Your name").fill("Nia Example")
    page.get_by_label("Your email address").fill("nia.example@example.org")
    page.get_by_label("A short note for the host").fill("I run peer support groups and would love to help.")
    page.get_by_role("button", name="Register interest").click()
    # Consent is required: the form comes back with the values kept and a message.
    expect(page.get_by_role("alert")).to_contain_text("Tick the box")
    expect(page.get_by_label("Your name")).to_have_value("Nia Example")
    page.get_by_label(re.compile("I agree that Roundtable shares")).check()
    page.get_by_role("button", name="Register interest").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you — your interest is registered")

    # Alerts for the same search.
    page.goto("/internships?direction=researcher-to-vcse&mode=hybrid")
    page.get_by_role("link", name="Get alerts for this search").click()
    expect(page).to_have_url(re.compile(r"/subscribe\?mailings=internship_alerts.*direction=researcher-to-vcse"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert page.console.errors == []

    # The host organisation's editor sees the registration.
    with unit_of_work(live.factory) as s:
        editor = s.scalar(select(m.User).where(m.User.email == "host.editor@example.org"))
        assert editor is not None and editor.organisation_id is not None
        cookie = create_session(s, editor, live.settings)
    context.add_cookies([{"name": SESSION_COOKIE, "value": cookie, "url": live.url, "httpOnly": True}])
    page.goto("/admin/internships")
    page.get_by_role("link", name=LISTING).click()
    expect(page.get_by_role("heading", name=re.compile(r"Registrations of interest"))).to_be_visible()
    expect(page.get_by_role("cell", name="nia.example@example.org")).to_be_visible()
    message = live.last_email(
        live.session().scalar(select(m.Internship.host_contact_email).where(m.Internship.title == LISTING)),
        kind="internship_interest",
    )
    assert "Nia Example" in message.text_body
    assert page.console.errors == []
