"""Every message in one answer: a bad amount filter says so, and the call form reports all its problems at once."""

from __future__ import annotations

import html

from crm import models as m
from tests import factories
from tests.conftest import post_form


def test_an_amount_filter_that_is_not_a_number_gets_a_field_message(client, db):
    factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    db.commit()
    page = client.get("/funding-calls", params={"min_amount": "abc"})
    text = html.unescape(page.text)
    assert page.status_code == 200
    assert "Check the filters" in text and "“abc” is not an amount" in text
    assert 'id="f-min" name="min_amount" type="number"' in page.text and 'aria-invalid="true"' in page.text
    assert "No open funding calls match" not in text
    # htmx asks for the results only: the message comes with them.
    fragment = client.get("/funding-calls", params={"min_amount": "abc"}, headers={"HX-Request": "true"})
    assert "is not an amount" in html.unescape(fragment.text) and "<h1>" not in fragment.text
    swapped = html.unescape(client.get("/funding-calls", params={"min_amount": "9000", "max_amount": "100"}).text)
    assert "Amount at most is smaller than amount at least" in swapped
    fine = html.unescape(client.get("/funding-calls", params={"min_amount": "£5,000"}).text)
    assert "Check the filters" not in fine


def test_the_call_form_reports_every_problem_in_one_answer(admin_client, db):
    response = post_form(
        admin_client,
        "/admin/funding-calls/new",
        {"title": "Peer research awards", "funder_id": "", "amount_min": "9000", "amount_max": "100"},
    )
    text = html.unescape(response.text)
    assert response.status_code == 422
    assert "Funder" in text and "is required" in text
    assert "The maximum amount must be at least the minimum amount." in text
    assert "Add at least one deadline." in text
    assert db.query(m.FundingCall).count() == 0
