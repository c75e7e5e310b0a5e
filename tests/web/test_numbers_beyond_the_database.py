"""A number the database cannot hold, typed into a form or sent by a tampered menu, is a message beside its field with
everything typed kept. PostgreSQL's integer stops at 2,147,483,647: past it the driver overflowed and the whole
form was a bare "Bad request" page that lost what was typed (SQLite holds more, so the rule is the same on both)."""

from __future__ import annotations

import datetime as dt
import html

from sqlalchemy import func, select

from crm import models as m
from crm.validation import MAX_ID, Form, record_id
from tests import factories
from tests.conftest import post_form
from tests.internships.helpers import form_data

HUGE = str(MAX_ID + 1)


def test_the_id_rule_takes_ascii_digits_up_to_what_an_integer_key_holds() -> None:
    assert [record_id(v) for v in ("1", " 42 ", str(MAX_ID), HUGE, "0", "-3", "1e3", "١٢", "", None)] == [
        1, 42, MAX_ID, None, None, None, None, None, None, None,
    ]  # fmt: skip
    form = Form({"topics": ["3", HUGE, "3", "x"], "capacity": HUGE})
    assert form.ids("topics") == [3] and form.errors["topics"] == "Choose from the list."
    assert form.int("capacity", label="Capacity") is None
    assert form.errors["capacity"] == "Capacity must be at most 2,147,483,647."


def test_an_event_capacity_past_the_bound_is_a_message_with_the_form_kept(admin_client, db) -> None:
    start = dt.date.today() + dt.timedelta(days=30)
    data = {"title": "Launch with partners", "starts_at": f"{start}T10:00", "ends_at": f"{start}T12:00"}
    page = post_form(admin_client, "/admin/events/new", {**data, "capacity": HUGE})
    assert page.status_code == 422
    text = html.unescape(page.text)
    assert "Capacity must be at most 2,147,483,647." in text and 'value="Launch with partners"' in text
    assert db.scalar(select(func.count(m.Event.id))) == 0


def test_a_funding_call_with_a_forged_topic_or_funder_id_is_a_message_with_the_form_kept(admin_client, db) -> None:
    funder = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    db.commit()
    page = post_form(
        admin_client,
        "/admin/funding-calls/new",
        {"title": "Peer research awards", "funder_id": str(funder.id), "topic_ids": ["1", HUGE]},
    )
    assert page.status_code == 422
    text = html.unescape(page.text)
    assert "Choose from the list." in text and 'value="Peer research awards"' in text
    page = post_form(admin_client, "/admin/funding-calls/new", {"title": "Peer research awards", "funder_id": HUGE})
    assert page.status_code == 422 and 'value="Peer research awards"' in html.unescape(page.text)
    assert db.scalar(select(func.count(m.FundingCall.id))) == 0


def test_an_internship_with_a_forged_host_id_is_a_message_with_the_form_kept(admin_client, db) -> None:
    page = post_form(admin_client, "/admin/internships/new", form_data(0, host_organisation_id=HUGE))
    assert page.status_code in (400, 422)
    assert "Research assistant with a peer support charity" in html.unescape(page.text)
    assert db.scalar(select(func.count(m.Internship.id))) == 0
