"""Journey (issue 7, "done when"): the fellow creates and publishes an event, invites a saved list, an invitee says
yes from the email's link, the event fills up, a withdrawal offers the place to the first on the waitlist, who
accepts it from the offer email."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm import models as m

pytestmark = pytest.mark.browser


def _invitees(live, event_id: int) -> list[str]:
    with live.session() as s:
        return list(
            s.scalars(
                select(m.OutboxMessage.recipient)
                .where(m.OutboxMessage.idempotency_key.startswith(f"invite:{event_id}:"))
                .order_by(m.OutboxMessage.id)
            )
        )


def _answer(page, live, email: str, answer: str) -> None:
    link = next(
        link
        for link in re.findall(r"https?://\S+", live.last_email(email, "event_invitation").text_body or "")
        if link.endswith(f"?answer={answer}")
    )
    page.goto(link)
    # The link only opens the page (scanners follow links); the answer is pre-chosen and saved with one button.
    expect(page.get_by_role("radio", name=re.compile({"yes": "Yes", "no": "No, I"}[answer]))).to_be_checked()
    page.get_by_role("button", name="Save my answer").click()


def test_fellow_invites_and_the_waitlist_promotes(page, live, signed_in):
    signed_in(m.Role.ADMIN)
    day = (dt.datetime.now(dt.UTC) + dt.timedelta(days=40)).strftime("%Y-%m-%d")
    page.goto("/admin/events/new")
    page.get_by_label("Title").fill("Browser journey: partnership speed-meeting")
    page.get_by_label("Starts").fill(f"{day} 10:00")
    page.get_by_label("Ends").fill(f"{day} 09:00")
    page.get_by_role("button", name="Create event").click()
    expect(page.get_by_role("alert")).to_contain_text("The end must be after the start")
    page.get_by_label("Ends").fill(f"{day} 12:00")
    page.get_by_label("Capacity").fill("1")
    page.get_by_role("button", name="Create event").click()
    expect(page.get_by_role("status")).to_contain_text("Event created as a draft")
    event_id = int(re.search(r"/admin/events/(\d+)", page.url).group(1))
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status")).to_contain_text("Published")

    page.get_by_role("link", name="Invite people").click()
    page.get_by_label("Saved list").select_option(label="Steering group")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("status")).to_contain_text("people will be invited")
    page.get_by_role("button", name=re.compile(r"^Send \d+ invitation")).click()
    expect(page.get_by_role("status")).to_contain_text("invitations queued")
    live.drain_mail()
    first, second = _invitees(live, event_id)[:2]

    _answer(page, live, first, "yes")
    expect(page.get_by_role("status")).to_contain_text("You're coming")
    _answer(page, live, second, "yes")
    expect(page.get_by_role("status")).to_contain_text("waitlist at position 1")

    _answer(page, live, first, "no")
    expect(page.get_by_role("status")).to_contain_text("you can't come")
    live.drain_mail()
    offer = live.link_in_email(second, kind="event_offer", path="/waitlist-offer/")
    page.goto(offer)
    page.get_by_role("button", name="Accept the place").click()
    expect(page.get_by_role("status")).to_contain_text("The place is yours")

    page.goto(f"/admin/events/{event_id}")
    expect(page.locator("#answers")).to_contain_text("1 yes")
    assert page.console.errors == []
