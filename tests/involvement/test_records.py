"""The record of involvement: hours and money as people type them, the fellow's list (filters, totals, CSV, flat
statements), adding, editing and deleting with a confirmation, and who may see it."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import func, select

from crm import models as m
from crm.involvement import records
from tests import factories
from tests.conftest import post_form, sign_in_as
from tests.dashboard import factories as f
from tests.involvement import records_builders as b

BASE = "/admin/involvement/records"
TODAY = dt.date(2026, 11, 25)


@pytest.mark.parametrize(
    ("typed", "minutes"),
    [("1.5", 90), ("1,5", 90), ("1:30", 90), ("2", 120), ("0:45", 45), ("", 0), ("3h", 180), ("1.25", 75)],
)
def test_hours_as_people_type_them(typed, minutes):
    assert records.parse_hours(typed) == minutes


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("abc", "Enter hours like 1.5 or 1:30"),
        ("-2", "cannot be negative"),
        ("1:75", "Enter hours like 1.5 or 1:30"),
        ("1001", "more than 1,000 hours"),
    ],
)
def test_hours_that_are_not_hours_say_why(typed, message):
    with pytest.raises(ValueError, match=message):
        records.parse_hours(typed)


def test_money_for_a_record():
    assert records.parse_pence("") == 0 and records.parse_pence("0") == 0
    assert records.parse_pence("£12.50") == 1250
    with pytest.raises(ValueError):
        records.parse_pence("abc")
    with pytest.raises(ValueError, match="negative"):
        records.parse_pence("-5")
    assert records.hours_label(90) == "1 hour 30 minutes" and records.hours_label(120) == "2 hours"
    assert records.hours_input(90) == "1:30" and records.money_label(1250) == "£12.50"


def test_validation_gives_every_message_at_once(db):
    data, errors = records.validate(
        db,
        {"activity": "", "took_part_on": "2030-01-01", "hours": "lots", "payment": "£abc", "member_id": "999"},
        today=TODAY,
    )
    assert data is None
    assert set(errors) == {"activity", "took_part_on", "hours", "payment", "member_id"}
    assert "future" in errors["took_part_on"] and "no longer exists" in errors["member_id"]
    _, errors = records.validate(
        db, {"activity": "A", "took_part_on": "2026-11-01", "organisation_id": "99999999999999999999"}, today=TODAY
    )
    assert errors["organisation_id"] == "Choose from the list."
    _, errors = records.validate(db, {"activity": "Meeting", "took_part_on": "2026-11-01"}, today=TODAY)
    assert "Say who took part" in errors["person_name"]
    data, errors = records.validate(
        db, {"activity": "Talk", "took_part_on": "2026-11-01", "recognition": "anonymous"}, today=TODAY
    )
    assert errors == {} and data.person_name == "" and data.recognition == m.Recognition.ANONYMOUS


def test_adding_a_record_for_a_member_takes_their_name_and_moves_their_last_involvement(admin_client, db):
    member = b.member(db, "rec.member@example.org", "Invented Recmember")
    org = factories.organisation(db, "Invented Records Group")
    p = f.partnership(db, title="Invented records partnership")
    opp = b.opportunity(db, title="Invented records opportunity")
    db.commit()
    form = admin_client.get(f"{BASE}/new?organisation={org.id}&partnership={p.id}")
    assert form.status_code == 200
    assert f'<option value="{org.id}" selected>' in form.text and f'<option value="{p.id}" selected>' in form.text
    done = post_form(
        admin_client,
        f"{BASE}/new",
        {
            "activity": "Advisory group meeting",
            "took_part_on": "2026-11-01",
            "member_id": str(member.id),
            "organisation_id": str(org.id),
            "partnership_id": str(p.id),
            "opportunity_id": str(opp.id),
            "hours": "1:30",
            "payment": "£25",
            "expenses": "4.50",
            "recognition": "acknowledged",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == f"{BASE}?notice=saved"
    db.expire_all()
    rec = db.scalar(select(m.InvolvementRecord))
    assert (rec.person_name, rec.minutes, rec.payment_pence, rec.expenses_pence) == (
        "Invented Recmember",
        90,
        2500,
        450,
    )
    assert db.get(m.NetworkMember, member.id).last_involved_at.date() == dt.date(2026, 11, 1)
    audit = db.scalar(select(m.AuditEntry).where(m.AuditEntry.entity == "involvement_record"))
    assert audit.action == "created" and "Invented Recmember" not in audit.summary
    page = admin_client.get(f"{BASE}?notice=saved")
    assert "Record saved." in page.text and "Advisory group meeting" in page.text
    assert "1 hour 30 minutes of involvement, £25 paid, £4.50 expenses" in page.text


def test_a_bad_form_comes_back_with_every_message_and_what_was_typed(admin_client, db):
    db.commit()
    response = post_form(
        admin_client,
        f"{BASE}/new",
        {
            "activity": "Wrote a commentary",
            "took_part_on": "2026-11-01",
            "person_name": "Invented Typed",
            "hours": "a lot",
            "payment": "twelve",
        },
    )
    assert response.status_code == 422
    assert "There is a problem" in response.text and "Enter hours like 1.5 or 1:30" in response.text
    assert 'value="Invented Typed"' in response.text and 'value="a lot"' in response.text
    assert db.scalar(select(func.count()).select_from(m.InvolvementRecord)) == 0


def test_editing_and_deleting_after_a_confirmation(admin_client, db):
    rec = b.record(db, activity="Invented session", person_name="Invented Person", minutes=60, payment_pence=2000)
    db.commit()
    rec_id = rec.id
    form = admin_client.get(f"{BASE}/{rec.id}/edit")
    assert form.status_code == 200 and 'value="1:00"' in form.text and 'value="20.00"' in form.text
    saved = post_form(
        admin_client,
        f"{BASE}/{rec.id}/edit",
        {**records.form_data(rec), "hours": "2.5", "recognition": "named-co-author"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    db.expire_all()
    rec = db.get(m.InvolvementRecord, rec.id)
    assert rec.minutes == 150 and rec.recognition == m.Recognition.NAMED_COAUTHOR
    confirm = admin_client.get(f"{BASE}/{rec.id}/delete")
    assert confirm.status_code == 200 and "Delete this record of involvement?" in confirm.text
    assert db.get(m.InvolvementRecord, rec.id) is not None  # looking at the confirmation deletes nothing
    gone = post_form(admin_client, f"{BASE}/{rec.id}/delete", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"] == f"{BASE}?notice=deleted"
    db.expire_all()
    assert db.get(m.InvolvementRecord, rec_id) is None
    assert admin_client.get(f"{BASE}/{rec_id}/edit").status_code == 404


def test_filters_totals_csv_and_a_bad_filter(admin_client, db):
    org = factories.organisation(db, "Invented Filter Group")
    b.record(
        db,
        activity="Group session",
        organisation_id=org.id,
        minutes=120,
        payment_pence=5000,
        took_part_on=dt.date(2026, 6, 1),
        recognition=m.Recognition.ACKNOWLEDGED,
    )
    b.record(
        db,
        activity="Commentary",
        person_name="Invented Writer",
        minutes=300,
        payment_pence=20000,
        took_part_on=dt.date(2026, 9, 1),
        recognition=m.Recognition.COMMENTARY_AUTHOR,
        note='Lovely, "quoted"',
    )
    db.commit()
    unrelated = factories.organisation(db, "Invented Unrelated Charity")
    db.commit()
    page = admin_client.get(f"{BASE}?organisation={org.id}")
    assert "Group session" in page.text and "Commentary</td>" not in page.text
    # The filter offers the organisations that have records, not the whole directory; the form offers them all.
    assert f'<option value="{org.id}" selected>' in page.text and unrelated.name not in page.text
    assert unrelated.name in admin_client.get(f"{BASE}/new").text
    assert "2 hours of involvement, £50 paid" in page.text
    later = admin_client.get(f"{BASE}?from=2026-07-01&recognition=commentary-author", headers={"HX-Request": "true"})
    assert "Invented Writer" in later.text and "Group session" not in later.text and "<html" not in later.text
    searched = admin_client.get(f"{BASE}?q=writer")
    assert "Invented Writer" in searched.text and "Group session" not in searched.text
    bad = admin_client.get(f"{BASE}?from=yesterday")
    assert bad.status_code == 200 and "Enter a date like 2026-01-31." in bad.text
    for odd in ("abc", "99999999999999999999", "²", "-1"):
        page = admin_client.get(f"{BASE}?organisation={odd}")
        assert page.status_code == 200 and "Choose from the list." in page.text
    response = admin_client.get(f"{BASE}/export.csv?from=2026-01-01")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["activity"] for r in rows] == ["Group session", "Commentary"]
    assert rows[0]["organisation"] == "Invented Filter Group" and rows[1]["payment_gbp"] == "200.00"
    assert rows[1]["hours"] == "5.00" and rows[1]["recognition"] == "Commentary author"
    assert rows[1]["note"] == 'Lovely, "quoted"'


def test_the_list_costs_the_same_statements_at_any_size(admin_client, db, count_queries):
    def measure() -> int:
        with count_queries() as q:
            assert (
                admin_client.get(f"{BASE}?recognition=acknowledged", headers={"HX-Request": "true"}).status_code == 200
            )
        return q.count

    org = factories.organisation(db)
    b.record(db, organisation_id=org.id)
    db.commit()
    small = measure()
    for n in range(30):
        b.record(db, organisation_id=org.id, person_name=f"Invented {n}", member_id=None)
    db.commit()
    assert measure() == small
    assert small <= 4  # the session, the page, its count, the totals


def test_records_are_the_fellows_only(client, db, settings):
    rec = b.record(db, person_name="Invented Private")
    db.commit()
    assert client.get(BASE, follow_redirects=False).status_code in (302, 303)
    sign_in_as(client, db, settings, "editor.records@example.org", m.Role.EDITOR)
    assert client.get(BASE).status_code == 403
    assert client.get(f"{BASE}/export.csv").status_code == 403
    assert post_form(client, f"{BASE}/{rec.id}/delete").status_code == 403


def test_a_record_that_cannot_exist_is_a_clear_answer_never_a_500(admin_client, db):
    for path in ("99999999999999999999/edit", "2147483648/delete"):  # beyond any id: refused as bad input
        assert admin_client.get(f"{BASE}/{path}").status_code in (400, 404)
    for path in ("0/edit", "7/edit", "7/delete"):
        assert admin_client.get(f"{BASE}/{path}").status_code == 404
