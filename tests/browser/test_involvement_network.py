"""Journey, by keyboard alone: someone with lived experience joins the lived experience network (the consent box
left empty first: the message comes back tied to it and nothing typed is lost), confirms from the email in the
outbox, receives an alert when a fitting opportunity is published, says "I'm interested" from it, and unsubscribes
from the alerts with the email's own link. No mouse: Tab moves focus, Space ticks a box, Enter submits or follows a
link. Every page is checked with axe, for reflow at 360 px and 200% zoom, readable controls and a clean console."""

from __future__ import annotations

import datetime as dt
import secrets

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm import models as m
from crm.db import unit_of_work
from crm.involvement import alerts, editing, network
from crm.involvement.rules import london_today
from tests.browser.a11y import horizontal_overflow, serious_violations, unreadable_controls
from tests.browser.keyboard import tab_to

pytestmark = pytest.mark.browser


def problems(page) -> list[str]:
    return serious_violations(page) + unreadable_controls(page) + horizontal_overflow(page) + page.console.errors


def _publish_and_alert(live, word: str) -> int:
    """A published co-production role with a word no other test uses, alerted as the job does (this one only: the
    live database is shared, so other tests' opportunities are left to their own runs)."""
    now = dt.datetime.now(dt.UTC)
    today = london_today(now)
    with unit_of_work(live.factory) as s:
        data, errors = editing.validate(
            s,
            {
                "title": f"Co-produce a study of peer support {word}",
                "kind": "co-production",
                "summary": "Shape a study with the research team from the start.",
                "lived_experience_sought": "You have given or received peer support.",
                "what_you_will_do": "Six online workshops over a year.",
                "online": "1",
                "paid": "1",
                "payment_amount": "20",
                "payment_basis": "hour",
                "expenses_covered": "1",
                "commitment": "ongoing",
                "accessibility_support": "Captions on every call; papers a week ahead.",
                "closing_date": (today + dt.timedelta(days=21)).isoformat(),
                "contact_name": "Dr Poster",
                "contact_email": f"poster.{word}@example.org",
            },
            today=today,
        )
        assert data is not None, errors
        opp = editing.create(s, data, status=m.OpportunityStatus.PUBLISHED)
        s.flush()
        queued = alerts.alert(s, live.app.state.renderer, live.app.state.signer, opp.id, now)
        assert queued is not None and queued >= 1
        return opp.id


def test_join_confirm_get_an_alert_and_unsubscribe_by_keyboard(page, live):
    word = f"net{secrets.token_hex(3)}"
    email = f"member.{word}@example.org"

    page.goto("/involvement/network")
    expect(page.get_by_role("heading", level=1)).to_have_text("Join the lived experience network")
    expect(page.locator("main")).to_contain_text("Only the Roundtable fellow")
    assert problems(page) == []

    tab_to(page, "#f-name")
    page.keyboard.type("Jo Member")
    tab_to(page, "#f-email")
    page.keyboard.type(email)
    tab_to(page, "input[name=kinds][value=co-production]")
    page.keyboard.press("Space")
    tab_to(page, "input[name=payment][value=paid]")
    page.keyboard.press("Space")
    tab_to(page, "#f-access_needs")
    page.keyboard.type("Captions on video calls.")
    tab_to(page, "main form button[type=submit]")
    page.keyboard.press("Enter")

    # No consent yet: the message is tied to the box, and what was typed is still there.
    expect(page.get_by_role("alert")).to_contain_text("Tick the box to say you agree")
    expect(page.locator("#f-email")).to_have_value(email)
    expect(page.locator("#f-access_needs")).to_have_value("Captions on video calls.")
    expect(page.locator("input[name=kinds][value=co-production]")).to_be_checked()
    assert problems(page) == []
    tab_to(page, "#f-consent-box")
    page.keyboard.press("Space")
    tab_to(page, "main form button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    assert problems(page) == []

    live.drain_mail()
    page.goto(live.link_in_email(email, kind="involvement_network_confirm", path="/involvement/network/confirm/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm you want to join")
    assert problems(page) == []
    tab_to(page, "main button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("You have joined the network")
    assert problems(page) == []

    opp_id = _publish_and_alert(live, word)
    live.drain_mail()
    alert = live.last_email(email, kind="involvement_alert")
    assert alert.status == m.OutboxStatus.SENT and word in alert.subject
    assert alert.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    page.goto(live.link_in_email(email, kind="involvement_alert", path="/involvement/network/interested/"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Interested in")
    assert problems(page) == []
    tab_to(page, "main form button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you, Jo Member")
    assert problems(page) == []

    page.goto(live.link_in_email(email, kind="involvement_alert", path="/u/"))
    expect(page.locator("main")).to_contain_text("Involvement opportunities")
    assert problems(page) == []
    tab_to(page, "main form button[type=submit]")
    # The answer names the mailing too, so wait for the form's navigation itself: checking the old page's text
    # passed at once and axe then ran while the page was replaced (seen once in CI).
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("main")).to_contain_text("Involvement opportunities")
    assert problems(page) == []

    with live.session() as s:
        member = network.by_email(s, email)
        sub = s.scalar(select(m.Subscription).where(m.Subscription.email == email))
        interest = s.scalar(select(m.InvolvementInterest).where(m.InvolvementInterest.email == email))
        assert member is not None and member.status == m.NetworkMemberStatus.ACTIVE  # still in the network
        assert member.access_needs == "Captions on video calls." and member.kinds == ["co-production"]
        assert not sub.wants("involvement")  # no more alerts
        assert (interest.opportunity_id, interest.member_id, interest.source) == (opp_id, member.id, "interest")
