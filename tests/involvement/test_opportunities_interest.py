"""Expressing interest: the form's messages, consent kept with its wording, a second time is not an error and loses
nothing, refused when closed (what was typed is shown back), the poster told by name only, the person a receipt."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from crm import models as m
from crm.accounts.services import ensure_user
from crm.involvement import interest as interest_service
from crm.involvement import rules
from crm.involvement.pages import INTEREST_LIMIT_PER_HOUR
from tests.conftest import post_form
from tests.involvement.opportunities_factory import make_opportunity, now

S = m.OpportunityStatus
GOOD = {
    "name": "Jo Rivers",
    "email": "Jo.Rivers@Example.org",
    "note": "I used a crisis line last year.",
    "access_needs": "I need breaks every hour.",
    "consent": "1",
}


def outbox(db) -> list[m.OutboxMessage]:
    return list(db.scalars(select(m.OutboxMessage).order_by(m.OutboxMessage.id)))


def test_interest_is_recorded_with_consent_and_the_poster_hears_only_a_name(client, db):
    opp = make_opportunity(db, title="Crisis panel", contact_email="poster@example.org", contact_name="Dr Poster")
    ensure_user(db, "poster@example.org", m.Role.ADMIN)  # the poster signs in: their link is the admin page
    db.commit()
    page = post_form(client, f"/involvement/{opp.slug}/interest", GOOD)
    assert page.status_code == 200
    assert "Thank you, we have passed on your interest" in page.text
    assert "jo.rivers@example.org" in page.text
    assert page.headers["cache-control"] == "no-store"
    row = db.scalars(select(m.InvolvementInterest)).one()
    assert (row.name, row.email, row.source, row.status) == ("Jo Rivers", "jo.rivers@example.org", "interest", "new")
    assert row.consent_wording == rules.INTEREST_CONSENT_WORDING and row.consented_at is not None
    assert row.access_needs == "I need breaks every hour."
    to_poster, receipt = outbox(db)
    assert to_poster.recipient == "poster@example.org"
    assert to_poster.idempotency_key == f"involvement:interest:{opp.id}:{row.id}"
    assert "Jo Rivers" in to_poster.text_body
    for private in ("jo.rivers@example.org", "crisis line", "breaks every hour"):
        assert private not in to_poster.text_body and private not in to_poster.html_body
    assert re.search(rf"^https?://\S+/admin/involvement/{opp.id}$", to_poster.text_body, re.M)  # a line of its own
    assert receipt.recipient == "jo.rivers@example.org"
    assert receipt.subject == "We have passed on your interest in Crisis panel"
    assert "what would help you take part" in receipt.text_body


@pytest.mark.parametrize("account", [None, m.Role.VIEWER, m.Role.EDITOR])
def test_a_poster_without_an_account_that_sees_it_gets_their_private_link(client, db, account):
    opp = make_opportunity(db, title="From the form", contact_email="someone@example.org")
    opp.public_posted = account is None
    if account is not None:  # an account, but not one that may see this opportunity's interest
        ensure_user(db, "someone@example.org", account)
    db.commit()
    post_form(client, f"/involvement/{opp.slug}/interest", GOOD)
    to_poster = outbox(db)[0]
    assert re.search(r"^https?://\S+/involvement/manage\?token=\S+$", to_poster.text_body, re.M)
    assert "/admin/" not in to_poster.text_body
    assert "no sign-in needed" in to_poster.text_body


def test_every_bad_field_gets_a_message_and_what_was_typed_stays(client, db):
    opp = make_opportunity(db)
    db.commit()
    page = post_form(
        client,
        f"/involvement/{opp.slug}/interest",
        {"name": "", "email": "not-an-address", "note": "Keep this text", "access_needs": "x" * 2001},
    )
    assert page.status_code == 422
    assert page.headers["cache-control"] == "no-store"  # it shows what the person typed
    assert "There is a problem" in page.text
    assert "Enter your name." in page.text
    assert "Enter a valid email address" in page.text
    assert "Keep this to 2,000 characters (it has 2,001)." in page.text
    assert "Tick the box to agree" in page.text
    assert "Keep this text" in page.text and 'value="not-an-address"' in page.text
    assert db.scalars(select(m.InvolvementInterest)).all() == []


def test_a_second_time_says_you_already_told_us_and_keeps_the_new_words(client, db):
    opp = make_opportunity(db)
    db.commit()
    post_form(client, f"/involvement/{opp.slug}/interest", GOOD)
    first = db.scalars(select(m.InvolvementInterest)).one()
    first.status = m.InvolvementInterestStatus.CONTACTED
    db.commit()
    again = post_form(
        client,
        f"/involvement/{opp.slug}/interest",
        {**GOOD, "email": "jo.rivers@example.org", "note": "A better note.", "access_needs": ""},
    )
    assert again.status_code == 200
    assert "You already told us you are interested" in again.text
    assert "We have kept what you wrote this time" in again.text
    db.expire_all()
    row = db.scalars(select(m.InvolvementInterest)).one()
    assert row.note == "A better note."
    assert row.access_needs == "I need breaks every hour."  # an empty field never blanks what they said
    assert row.status == m.InvolvementInterestStatus.CONTACTED  # the first stays
    assert len(outbox(db)) == 2  # nothing sent twice


def test_closed_or_lapsed_opportunities_refuse_interest_and_show_what_was_typed(client, db):
    closed = make_opportunity(db, title="Closed", status=S.CLOSED)
    lapsed = make_opportunity(db, title="Lapsed", days=-1)
    db.commit()
    for opp in (closed, lapsed):
        page = post_form(client, f"/involvement/{opp.slug}/interest", {**GOOD, "note": "My words are kept"})
        assert page.status_code == 409
        assert "It is no longer taking expressions of interest." in page.text
        assert "What you wrote" in page.text and "My words are kept" in page.text
    assert db.scalars(select(m.InvolvementInterest)).all() == []
    assert post_form(client, "/involvement/no-such/interest", GOOD).status_code == 404


def test_record_interest_for_a_network_member_and_refusals(app, db):
    opp = make_opportunity(db)
    member = m.NetworkMember(email="member@example.org", name="Member", status=m.NetworkMemberStatus.ACTIVE)
    db.add(member)
    db.flush()
    kwargs = {"renderer": app.state.renderer, "signer": app.state.signer, "now": now()}
    row, created = interest_service.record_interest(
        db, opp, name="Member", email="member@example.org", note="", access_needs="",
        member_id=member.id, source="invited", **kwargs,
    )  # fmt: skip
    assert created and row.member_id == member.id and row.source == "invited"
    db.refresh(member)
    assert member.last_involved_at is not None
    same, created = interest_service.record_interest(
        db, opp, name="Member", email="MEMBER@example.org", note="Yes please", access_needs="", **kwargs
    )
    assert not created and same.id == row.id and same.note == "Yes please"
    to_poster = db.scalars(select(m.OutboxMessage).where(m.OutboxMessage.kind == "involvement_interest")).one()
    assert "said yes to your invitation" in to_poster.subject
    with pytest.raises(interest_service.OpportunityClosed):
        interest_service.record_interest(
            db, opp, name="Late", email="late@example.org", note="", access_needs="",
            **{**kwargs, "now": opp.closes_at + dt.timedelta(seconds=1)},
        )  # fmt: skip


def test_rate_limit_keeps_what_was_typed(client, db):
    opp = make_opportunity(db)
    db.commit()
    for n in range(INTEREST_LIMIT_PER_HOUR * 3):  # per connection
        post_form(client, f"/involvement/{opp.slug}/interest", {**GOOD, "email": f"p{n}@example.org"})
    page = post_form(client, f"/involvement/{opp.slug}/interest", {**GOOD, "email": "late@example.org"})
    assert page.status_code == 429
    assert "Please try again later" in page.text and "late@example.org" in page.text


def test_a_name_that_would_break_an_email_header_is_a_message_not_a_500(client, db):
    opp = make_opportunity(db)
    db.commit()
    page = post_form(client, f"/involvement/{opp.slug}/interest", {**GOOD, "name": "Jo\rBcc: x@example.org"})
    assert page.status_code == 422
    assert "Use a single line of at most 200 characters for your name." in page.text
