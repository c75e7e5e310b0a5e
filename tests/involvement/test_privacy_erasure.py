"""Involvement's personal data in the subject-access export and erasure: the whole-database search (every text/JSON
column of every table in the live database) finds the person in each new table before, and nowhere after."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.privacy.erasure import erase
from crm.privacy.subjects import export, find_subject
from tests import factories
from tests.conftest import post_form
from tests.dashboard import factories as f
from tests.involvement import records_builders as b
from tests.privacy.test_erasure import EMAIL, NAME, OTHER_EMAIL, OTHER_NAME, _person, find_everywhere

NEW_TABLES = {
    "network_members",
    "involvement_interests",
    "involvement_records",
    "involvement_opportunities",
    "consultation_requests",
    "consultation_recipients",
}


def _involvement(db: Session, email: str, name: str) -> dict[str, int]:
    """The person everywhere involvement keeps personal data: a network member who expressed interest, took part,
    posts an opportunity, answered a consultation from their group's address and is a researcher's reply address."""
    group = factories.organisation(db, public_email=email)
    partnership = f.partnership(db, title=f"Invented involvement partnership {email}")
    member = b.member(
        db,
        email,
        name,
        access_needs=f"{name} needs a quiet room",
        experience=f"I am {name}; I live with bipolar disorder",
        kinds=["advisory-group"],
        payment_preferences=["vouchers"],
    )
    db.execute(
        m.network_member_topics.insert().values(member_id=member.id, topic_id=db.scalar(select(m.Topic.id).limit(1)))
    )
    db.execute(
        m.network_member_regions.insert().values(member_id=member.id, region_id=factories.region(db, "London").id)
    )
    posted = b.opportunity(db, title=f"Invented advisory group {email}", contact_name=name, contact_email=email)
    other = b.opportunity(db, title=f"Invented study {email}")
    interest = b.interest(
        db, other, email, name, note=f"{name} here", access_needs="Step-free access", member_id=member.id
    )
    record = b.record(
        db,
        activity="Advisory group meeting",
        opportunity_id=other.id,
        partnership_id=partnership.id,
        member_id=member.id,
        person_name=name,
        minutes=90,
        payment_pence=3000,
        expenses_pence=450,
        note=f"{name} chaired the meeting",
    )
    request = b.consultation(
        db, title=f"Invented consultation {email}", researcher_name=name, reply_email=email, project_summary="Plain"
    )
    answer = b.recipient(
        db,
        request,
        group,
        email=email,
        answer=m.ConsultationAnswer.YES,
        answered_by=name,
        answer_note=f"Yes from {name}",
        answered_at=f.NOW,
    )
    db.flush()
    return {
        "member": member.id,
        "posted": posted.id,
        "interest": interest.id,
        "record": record.id,
        "request": request.id,
        "answer": answer.id,
        "group": group.id,
    }


def test_the_whole_database_search_finds_the_person_in_every_new_table(db):
    _person(db, EMAIL, NAME)
    _involvement(db, EMAIL, NAME)
    tables = {t for t, _, _ in find_everywhere(db, EMAIL, NAME)}
    assert tables >= NEW_TABLES


def test_erasure_removes_involvement_data_everywhere_and_keeps_the_counts(admin_client, db):
    ids = _person(db, EMAIL, NAME)
    inv = _involvement(db, EMAIL, NAME)
    _person(db, OTHER_EMAIL, OTHER_NAME)
    kept = _involvement(db, OTHER_EMAIL, OTHER_NAME)
    db.commit()

    confirm = admin_client.get(f"/admin/privacy/erase?contact_id={ids['contact']}")
    assert "delete their lived experience network membership" in confirm.text

    done = post_form(
        admin_client,
        "/admin/privacy/erase",
        {"contact_id": str(ids["contact"]), "email": "", "confirm": "yes"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    db.expire_all()

    assert find_everywhere(db, EMAIL, NAME) == []
    # The membership is gone (leaving the network erases it); the rest stays, without the person.
    assert db.get(m.NetworkMember, inv["member"]) is None
    interest = db.get(m.InvolvementInterest, inv["interest"])
    assert interest.name == "Erased" and interest.member_id is None and interest.access_needs == ""
    record = db.get(m.InvolvementRecord, inv["record"])
    assert (record.minutes, record.payment_pence, record.expenses_pence) == (90, 3000, 450)
    assert record.person_name == "" and record.member_id is None and record.note == ""
    answer = db.get(m.ConsultationRecipient, inv["answer"])
    assert answer.answer == m.ConsultationAnswer.YES and answer.answered_by == "" and answer.email == ""
    assert db.get(m.InvolvementOpportunity, inv["posted"]).contact_email == ""
    request = db.get(m.ConsultationRequest, inv["request"])
    assert request.reply_email == "" and request.researcher_name == ""
    entry = db.scalar(select(m.AuditEntry).where(m.AuditEntry.action == "erase"))
    assert entry.changes["counts"]["network_members"] == 1 and entry.changes["counts"]["involvement_interests"] == 1

    # The other person is untouched.
    assert {t for t, _, _ in find_everywhere(db, OTHER_EMAIL, OTHER_NAME)} >= NEW_TABLES
    assert db.get(m.NetworkMember, kept["member"]).email == OTHER_EMAIL
    assert db.get(m.InvolvementRecord, kept["record"]).person_name == OTHER_NAME


def test_a_network_member_known_only_to_involvement_is_a_subject(db):
    """No contact, subscription or user: the network membership alone makes the address someone we hold data on."""
    b.member(db, "only.member@example.org", "Invented Onlymember", access_needs="Large print")
    db.flush()
    subject = find_subject(db, email="Only.Member@example.org")
    data = export(db, subject)
    assert data["involvement_network_member"][0]["access_needs"] == "Large print"
    assert "confirm_nonce" not in data["involvement_network_member"][0]
    counts = erase(db, subject, None)
    assert counts["network_members"] == 1
    assert find_everywhere(db, "only.member@example.org", "Invented Onlymember") == []
    assert db.scalar(select(func.count()).select_from(m.NetworkMember)) == 0


def test_subject_access_export_lists_every_involvement_section(admin_client, db):
    _person(db, EMAIL, NAME)
    inv = _involvement(db, EMAIL, NAME)
    db.commit()
    page = admin_client.get(f"/admin/privacy/subject?email={EMAIL}")
    assert page.status_code == 200
    for heading in (
        "Lived experience network membership",
        "Expressions of interest in involvement opportunities",
        "Records of involvement",
        "Involvement opportunities they are the contact for",
        "Answers to consultation requests",
        "Consultation requests they are the reply address for",
    ):
        assert heading in page.text
    assert "needs a quiet room" in page.text
    data = admin_client.get(f"/admin/privacy/export.json?email={EMAIL}").json()
    member = data["involvement_network_member"][0]
    assert member["id"] == inv["member"] and member["regions"] == ["London"] and len(member["topics"]) == 1
    assert member["experience"].endswith("bipolar disorder") and member["payment_preferences"] == ["vouchers"]
    assert [i["id"] for i in data["involvement_interests"]] == [inv["interest"]]
    assert data["involvement_interests"][0]["access_needs"] == "Step-free access"
    assert [r["id"] for r in data["involvement_records"]] == [inv["record"]]
    assert data["involvement_records"][0]["minutes"] == 90
    assert [o["id"] for o in data["involvement_opportunities_as_contact"]] == [inv["posted"]]
    assert [a["id"] for a in data["consultation_answers"]] == [inv["answer"]]
    assert data["consultation_answers"][0]["answer"] == "yes"
    assert [r["id"] for r in data["consultation_requests_as_contact"]] == [inv["request"]]


def test_a_contact_without_an_address_is_found_in_records_and_answers_by_name(db):
    """Records and consultation answers hold no address of the person: a contact with none is found by name."""
    contact = factories.contact(db, "Invented Noaddress", None)
    group = factories.organisation(db)
    rec = b.record(db, activity="Invented talk", person_name="Invented Noaddress", minutes=45, note="Spoke well")
    answer = b.recipient(
        db, b.consultation(db), group, email="group@example.org", answered_by="Invented Noaddress", answer_note="Yes"
    )
    other = b.record(db, activity="Someone else's talk", person_name="Invented Someoneelse")
    db.flush()
    subject = find_subject(db, contact_id=contact.id)
    data = export(db, subject)
    assert [r["id"] for r in data["involvement_records"]] == [rec.id]
    assert [a["id"] for a in data["consultation_answers"]] == [answer.id]
    assert data["involvement_network_member"] == [] and data["involvement_interests"] == []
    erase(db, subject, None)
    assert find_everywhere(db, "Invented Noaddress") == []
    assert db.get(m.InvolvementRecord, rec.id).minutes == 45
    assert db.get(m.ConsultationRecipient, answer.id).email == ""  # the answer stays, without who gave it
    assert db.get(m.InvolvementRecord, other.id).person_name == "Invented Someoneelse"
