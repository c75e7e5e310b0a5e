"""Event journeys in the browser.

* The fellow signs in with a magic link, creates a networking event, publishes it and invites the VCSE
  organisations' contacts; an invitee's email carries the calendar invitation and the public events page lists it.
* (issue 7, "done when") The fellow creates and publishes an event, invites a saved list, an invitee says yes from
  the email's link, the event fills up, a withdrawal offers the place to the first on the waitlist, who accepts it
  from the offer email.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm import models as m
from crm.events.jobs import queue_pending
from crm.runtime import Runtime
from tests.browser.test_fellow_journey import _sign_in_with_magic_link

pytestmark = pytest.mark.browser


def test_fellow_creates_publishes_and_invites(page, live):
    _sign_in_with_magic_link(page, live)

    page.goto("/admin/events/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("Create an event")
    title = "Funding call networking morning"
    page.get_by_label("Title").fill(title)
    page.get_by_label("Description").fill("Meet researchers and charities before the new call opens.")
    start = (dt.datetime.now() + dt.timedelta(days=30)).replace(hour=10, minute=0)
    page.get_by_label("Starts").fill(start.strftime("%Y-%m-%d %H:%M"))
    page.get_by_label("Ends").fill((start + dt.timedelta(hours=2)).strftime("%Y-%m-%d %H:%M"))
    page.get_by_label("Venue and address").fill("Community Hall, 1 Canal Street, Leeds")
    page.get_by_label("Capacity").fill("40")
    page.get_by_role("button", name="Create event").click()
    expect(page).to_have_url(re.compile(r"/admin/events/\d+\?notice=created$"))
    event_id = int(re.search(r"/admin/events/(\d+)", page.url).group(1))
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Draft")

    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Published")

    page.get_by_role("link", name="Invite people").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)
    page.get_by_label("VCSE", exact=True).check()
    page.get_by_role("button", name="Preview").click()
    send = page.get_by_role("button", name=re.compile(r"^Send \d+ invitations?$"))
    expect(send).to_be_visible()
    expected = int(re.search(r"\d+", send.inner_text()).group(0))
    send.click()
    expect(page).to_have_url(re.compile(rf"/admin/events/{event_id}\?notice="))
    # Up to 100 emails are queued at once; beyond that the worker queues the rest (its job runs here).
    expect(page.get_by_text(re.compile(rf"^{expected} (invitations queued|people invited)"))).to_be_visible()
    context = Runtime(live.settings)
    try:
        queue_pending(context)
    finally:
        context.engine.dispose()
    live.drain_mail()
    with live.factory() as s:
        invited = list(
            s.scalars(
                select(m.Contact.email)
                .join(m.Invitation, m.Invitation.contact_id == m.Contact.id)
                .where(m.Invitation.event_id == event_id)
                .order_by(m.Invitation.id)
            )
        )
    assert len(invited) == expected > 0
    for email in (invited[0], invited[-1]):  # the first (queued at once) and the last (queued by the worker)
        message = live.last_email(email, kind="event_invitation")
        assert title in message.subject and message.status == m.OutboxStatus.SENT

    page.goto("/events")
    link = page.get_by_role("link", name=title)
    expect(link).to_be_visible()
    link.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)
    expect(page.get_by_text("Community Hall").first).to_be_visible()
    assert page.console.errors == []


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
