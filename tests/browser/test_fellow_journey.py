"""Journey: the fellow signs in with a magic link, edits an organisation, approves a submitted group and
records a funding call, then finds each change where the public (or the submitter) would see it."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from crm import models as m

pytestmark = pytest.mark.browser


def _sign_in_with_magic_link(page, live) -> None:
    email = live.users[m.Role.ADMIN]
    page.goto("/sign-in?next=/admin")
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    live.drain_mail()
    page.goto(live.link_in_email(email, kind="sign_in", path="/sign-in/verify"))
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{live.url}/admin")


def test_fellow_edits_approves_and_publishes(page, live):
    _sign_in_with_magic_link(page, live)

    # 1. Edit an organisation's description; the record page shows it and its history records the change.
    org_id = live.data.values["organisation_id"]
    page.goto(f"/admin/organisations/{org_id}")
    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Edit")
    description = "Weekly peer support walks along the canal, run by volunteers with lived experience."
    page.get_by_label("What the group does").fill(description)
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(rf"/admin/organisations/{org_id}\?notice=saved$"))
    expect(page.get_by_text(description, exact=True)).to_be_visible()
    history = page.locator("section[aria-labelledby=history-h]")
    expect(history).to_contain_text("Description")
    expect(history).to_contain_text("Weekly peer support walks")

    # 2. Approve the first group waiting for review: it becomes findable and its submitter is emailed.
    page.goto("/admin/review")
    expect(page.get_by_role("heading", level=1)).to_have_text("Groups waiting for review")
    card = page.locator("section.card").first
    name = card.get_by_role("heading", level=2).inner_text().strip()
    submitter = re.search(r"<([^>]+)>", card.inner_text())
    assert submitter, card.inner_text()
    submitter_email = submitter.group(1)
    page.goto("/organisations?q=" + name.split()[0])
    expect(page.get_by_role("link", name=name, exact=True)).to_have_count(0)  # not public before approval

    page.goto("/admin/review")
    card = page.locator("section.card", has=page.get_by_role("heading", name=name, exact=True))
    card.get_by_label("Note to the submitter").fill("Welcome to the directory.")
    card.get_by_role("button", name="Approve and publish").click()
    expect(page).to_have_url(f"{live.url}/admin/review")
    expect(page.get_by_role("heading", name=name, exact=True)).to_have_count(0)  # gone from the queue

    message = live.last_email(submitter_email, kind="submission_approved")
    assert name in (message.text_body or "")
    page.goto("/organisations?q=" + name.split()[0])
    expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()

    # 3. Record a funding call with a future deadline and a topic, publish it, find it on the public list.
    page.goto("/admin/funding-calls/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("Record a funding call")
    title = "Community Listening Fund for peer-led projects"
    page.get_by_label("Title").fill(title)
    page.get_by_label("Funder").select_option(index=1)
    page.get_by_label("Web address of the call").fill("https://funder.example.org/listening")
    page.get_by_label("Summary").fill("Small grants for peer-led listening projects run with a research partner.")
    page.get_by_label("Stage 1").fill("Full application")
    deadline = dt.datetime.now() + dt.timedelta(days=45)
    page.get_by_label("Deadline 1", exact=True).fill(deadline.strftime("%Y-%m-%dT12:00"))
    page.get_by_label("Minimum").fill("5000")
    page.get_by_label("Maximum").fill("20000")
    topics = page.locator("details", has=page.locator("summary", has_text="Topics"))
    topics.locator("summary").click()
    topic = topics.get_by_role("checkbox").first
    topic_name = topics.locator("label").first.inner_text().strip()
    topic.check()
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin/funding-calls/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)
    expect(page.get_by_text(topic_name).first).to_be_visible()

    page.goto("/funding-calls?q=Listening")
    link = page.get_by_role("link", name=title)
    expect(link).to_be_visible()
    link.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)
    expect(page.get_by_text("Full application").first).to_be_visible()
    assert page.console.errors == []
