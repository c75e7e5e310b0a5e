"""The one validation and writing of an opportunity (admin, public offer form and API share it), and the money rules."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from crm import models as m
from crm.errors import FieldErrors
from crm.involvement import editing, rules
from tests.factories import organisation, region_id, topic
from tests.involvement.opportunities_factory import make_opportunity, now, today, valid_form


@pytest.mark.parametrize(
    ("typed", "pence"),
    [("12.50", 1250), ("£12.50", 1250), ("£1,200", 120000), (" 25 ", 2500), ("0.5", 50), ("10000", 1_000_000)],
)
def test_money_as_typed_becomes_pence(typed: str, pence: int) -> None:
    assert rules.parse_money(typed) == pence


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("abc", "like 12.50"),
        ("", "like 12.50"),
        ("-5", "cannot be negative"),
        ("0", "above £0"),
        ("12.505", "two decimal places"),
        ("10000.01", "more than £10,000"),
        ("50p", "not pence"),
        ("NaN", "like 12.50"),
        ("1e3", None),
    ],
)
def test_money_that_is_not_money_gets_a_plain_message(typed: str, message: str | None) -> None:
    if message is None:  # scientific notation is still a number: 1e3 is £1,000
        assert rules.parse_money(typed) == 100000
        return
    with pytest.raises(ValueError, match=message):
        rules.parse_money(typed)


def test_payment_is_said_in_plain_words() -> None:
    assert rules.payment_label(1250, m.PaymentBasis.HOUR) == "£12.50 per hour"
    assert rules.payment_label(2500, "meeting") == "£25 per meeting"
    assert rules.payment_label(None, None) == "Paid"
    assert rules.money_input(1250) == "12.50"


def test_a_closing_date_closes_at_the_end_of_that_day_in_london() -> None:
    summer = rules.closes_at_for(dt.date(2027, 7, 1))
    winter = rules.closes_at_for(dt.date(2027, 1, 15))
    assert summer == dt.datetime(2027, 7, 1, 23, 0, tzinfo=dt.UTC)  # BST: midnight in London is 23:00 UTC
    assert winter == dt.datetime(2027, 1, 16, 0, 0, tzinfo=dt.UTC)


def test_a_valid_form_is_written_with_its_topics_and_closing_moment(db) -> None:
    crisis = topic(db, "Crisis care")
    data, errors = editing.validate(
        db, valid_form(topic_ids=[str(crisis.id)], title="Crisis care panel"), today=today()
    )
    assert errors == {} and data is not None
    opp = editing.create(db, data, status=m.OpportunityStatus.PUBLISHED, user_id=None)
    db.flush()
    assert opp.slug == "crisis-care-panel"
    assert opp.payment_pence == 2500 and opp.payment_basis == m.PaymentBasis.MEETING
    assert opp.closes_at == rules.closes_at_for(data.closing_date)
    assert opp.published_at is not None
    assert editing.topic_ids_of(db, opp.id) == [crisis.id]
    second = editing.create(db, data, status=m.OpportunityStatus.DRAFT)
    assert second.slug == "crisis-care-panel-2"  # slugs stay unique


def test_reserved_paths_are_never_a_slug(db) -> None:
    data, _ = editing.validate(db, valid_form(title="Offer"), today=today())
    assert data is not None
    assert editing.create(db, data, status=m.OpportunityStatus.DRAFT).slug == "offer-opportunity"


def test_bad_input_gets_a_message_for_every_field_at_once(db) -> None:
    data, errors = editing.validate(
        db,
        valid_form(
            title="",
            kind="party",
            payment_amount="abc",
            payment_basis="fortnight",
            closing_date=(today() - dt.timedelta(days=1)).isoformat(),
            contact_email="not an email",
            online="",
            region_id="999999",
            topic_ids=["999999"],
            organisation_id="999999",
        ),
        today=today(),
    )
    assert data is None
    assert errors["title"].startswith("Enter a title")
    assert errors["kind"] == "Choose what kind of involvement this is."
    assert errors["payment_amount"] == "Enter an amount in pounds, like 12.50 or £25."
    assert "per hour, per meeting" in errors["payment_basis"]
    assert errors["closing_date"] == "The closing date is in the past. Choose today or a later date."
    assert "valid email" in errors["contact_email"]
    assert errors["region_id"] == "Choose a region from the list."
    assert errors["topic_ids"] == "Choose topics from the list."
    assert errors["organisation_id"] == "Choose an organisation from the list."


def test_paid_needs_an_amount_and_expenses_only_keeps_none(db) -> None:
    _, errors = editing.validate(db, valid_form(payment_amount=""), today=today())
    assert errors == {"payment_amount": "Enter how much the role pays, in pounds, like 25 or 12.50."}
    data, errors = editing.validate(
        db, valid_form(paid="", payment_amount="abc", payment_basis="nonsense"), today=today()
    )
    assert errors == {} and data is not None
    assert data.paid is False and data.payment_pence is None and data.payment_basis is None


def test_a_place_is_needed_a_region_or_online(db) -> None:
    _, errors = editing.validate(db, valid_form(online=""), today=today())
    assert errors == {"region_id": "Choose the region where it happens, or say it can be done online."}
    data, errors = editing.validate(db, valid_form(online="", region_id=str(region_id(db, "UKI"))), today=today())
    assert errors == {} and data is not None


def test_dates_that_are_not_dates_and_missing_ones(db) -> None:
    assert editing.validate(db, valid_form(closing_date="31/12/2027"), today=today())[1] == {
        "closing_date": "Enter the closing date as a date, like 2027-03-31."
    }
    assert editing.validate(db, valid_form(closing_date=""), today=today())[1] == {
        "closing_date": "Enter a closing date."
    }


def test_editing_keeps_an_unchanged_past_closing_date_and_a_partial_change_keeps_the_rest(db) -> None:
    org = organisation(db, "Institute of Psychiatry")
    opp = make_opportunity(db, days=-3, organisation_id=str(org.id), status=m.OpportunityStatus.CLOSED)
    data, errors = editing.validate(db, {"title": "Renamed"}, today=today(), existing=opp, partial=True)
    assert errors == {} and data is not None
    assert data.closing_date == opp.closing_date and data.payment_pence == 2500 and data.organisation_id == org.id
    editing.update(db, opp, data)
    assert opp.title == "Renamed"
    assert opp.slug != "renamed"  # it was public once: its address stays
    _, errors = editing.validate(
        db, {"closing_date": (today() - dt.timedelta(days=1)).isoformat()}, today=today(), existing=opp, partial=True
    )
    assert "closing_date" in errors


def test_publish_refuses_a_passed_closing_date_and_close_stays_closed(db) -> None:
    opp = make_opportunity(db, days=-1, status=m.OpportunityStatus.DRAFT)
    with pytest.raises(FieldErrors) as caught:
        editing.publish(db, opp, now())
    assert "closing_date" in caught.value.errors
    fresh = make_opportunity(db, status=m.OpportunityStatus.DRAFT)
    editing.publish(db, fresh, now())
    assert fresh.status == m.OpportunityStatus.PUBLISHED and fresh.published_at is not None
    editing.close(db, fresh, now())
    assert fresh.status == m.OpportunityStatus.CLOSED and fresh.closed_at is not None
    db.flush()
    entries = db.scalars(select(m.AuditEntry.action).where(m.AuditEntry.entity == "involvement_opportunity")).all()
    assert {"create", "publish", "close"} <= set(entries)


def test_form_values_read_back_what_was_stored(db) -> None:
    opp = make_opportunity(db, payment_amount="12.5", payment_basis="hour")
    values = editing.form_values(editing.current_input(db, opp))
    assert values["payment_amount"] == "12.50" and values["payment_basis"] == "hour"
    assert values["paid"] == "1" and values["online"] == "1" and values["kind"] == "advisory-group"


def test_a_contact_name_that_would_break_an_email_header_is_refused(db) -> None:
    _, errors = editing.validate(db, valid_form(contact_name="Sam\rBcc: x@example.org"), today=today())
    assert errors == {"contact_name": "Use a single line."}


def test_ids_larger_than_the_database_holds_are_a_message_on_both_databases(db) -> None:
    huge = str(2**40)
    _, errors = editing.validate(
        db, valid_form(organisation_id=huge, region_id=huge, topic_ids=[huge, "٣"]), today=today()
    )
    assert errors == {
        "organisation_id": "Choose an organisation from the list.",
        "region_id": "Choose a region from the list.",
        "topic_ids": "Choose topics from the list.",
    }


@pytest.mark.parametrize("year", ["9999", "2099"])
def test_a_closing_date_years_away_is_a_typo_not_a_crash(db, year: str) -> None:
    _, errors = editing.validate(db, valid_form(closing_date=f"{year}-12-31"), today=today())
    assert errors == {"closing_date": "The closing date is more than three years away. Check the year."}
