"""Host journey (issue 20 items 8 and 9): a charity without an account offers a placement through the public form
→ the fellow approves it → an early career researcher registers interest → the host opens the private manage link
from the email in the outbox, sees the registration and marks it shortlisted (the applicant is emailed). Every new
page passes axe-core, keeps readable controls and does not scroll sideways.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm import models as m
from tests.browser.a11y import horizontal_overflow, serious_violations, unreadable_controls

pytestmark = pytest.mark.browser

TITLE = "Community researcher with a food bank network"
HOST_EMAIL = "sam.host@foodbank.example.org"
APPLICANT = "priya.researcher@example.org"


def _problems(page) -> list[str]:
    return serious_violations(page) + unreadable_controls(page) + horizontal_overflow(page)


def test_host_posts_fellow_approves_researcher_registers_host_shortlists(page, context, live):
    # 1. The host offers a placement. A first try without the essentials comes back with messages.
    page.goto("/internships/offer")
    expect(page.get_by_role("heading", level=1)).to_have_text("Offer an internship")
    assert _problems(page) == []
    page.get_by_role("button", name="Send for review").click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    expect(page.get_by_role("link", name="Enter the name of your organisation.")).to_be_visible()
    assert _problems(page) == []

    page.get_by_label("Organisation name").fill("Northside Food Bank Network")
    page.get_by_label("Title of the placement").fill(TITLE)
    page.get_by_label(re.compile("A charity, community group or social enterprise")).check()
    page.get_by_label("What the placement involves").fill("Interview volunteers about what helps people most.")
    page.get_by_label("Where the work happens").select_option("hybrid")
    page.get_by_label("Hours a week").fill("10")
    page.get_by_label("This placement is paid").check()
    page.get_by_label("How much, in pounds").fill("180")
    page.get_by_label("How often").select_option("week")
    closing = (dt.date.today() + dt.timedelta(days=40)).isoformat()
    page.get_by_label("Closing date").fill(closing)
    page.get_by_label("Application web address").fill("https://foodbank.example.org/placements")
    page.get_by_label("Your name").fill("Sam Host")
    page.get_by_label("Your email address").fill(HOST_EMAIL)
    page.get_by_role("button", name="Send for review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")
    expect(page.get_by_text(HOST_EMAIL)).to_be_visible()
    assert _problems(page) == []

    # 2. The fellow approves it from the admin list.
    context.add_cookies([live.session_cookie(m.Role.ADMIN)])
    page.goto("/admin/internships?status=submitted")
    page.get_by_role("link", name=TITLE).click()
    expect(page.locator("p.notice")).to_contain_text("Posted by the host through the public form")
    page.get_by_role("button", name="Approve and publish").click()
    expect(page.get_by_text("Status changed.")).to_be_visible()
    context.clear_cookies()

    # 3. An early career researcher registers interest on the public page.
    page.goto("/internships")
    page.get_by_role("link", name=TITLE).click()
    page.get_by_label("Your name").fill("Priya Researcher")
    page.get_by_label("Your email address").fill(APPLICANT)
    page.get_by_label("A short note for the host").fill("I have run interviews with volunteers before.")
    page.get_by_label(re.compile("I agree that Roundtable shares")).check()
    page.get_by_role("button", name="Register interest").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you — your interest is registered")

    # 4. The host opens the manage link from the approval email and marks the registration shortlisted.
    link = live.link_in_email(HOST_EMAIL, kind="internship_host_link", path="/internships/manage/")
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Manage “{TITLE}”")
    expect(page.get_by_role("heading", name=re.compile(r"Registrations of interest \(1\)"))).to_be_visible()
    expect(page.get_by_role("link", name=APPLICANT)).to_be_visible()
    assert _problems(page) == []
    page.get_by_label("Status for Priya Researcher").select_option("shortlisted")
    page.get_by_role("button", name="Save status for Priya Researcher").click()
    expect(page.get_by_role("status")).to_contain_text("we have emailed the applicant")
    expect(page.get_by_label("Status for Priya Researcher")).to_have_value("shortlisted")
    message = live.last_email(APPLICANT, kind="internship_interest_status")
    assert "shortlist" in message.subject and message.headers.get("Reply-To", "").endswith(f"<{HOST_EMAIL}>")
    with live.session() as s:
        status = s.scalar(select(m.InternshipInterest.status).where(m.InternshipInterest.email == APPLICANT))
    assert status == m.InterestStatus.SHORTLISTED

    # The edit page, and a tampered link.
    page.get_by_role("link", name="Change the listing").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Change “{TITLE}”")
    expect(page.get_by_label("Title of the placement")).to_have_value(TITLE)
    assert _problems(page) == []
    page.goto(link[:-3] + "abc")
    expect(page.get_by_role("heading", level=1)).to_have_text("This link does not work")
    assert _problems(page) == []
    assert page.console.errors == []
