"""Where each registration of interest stands (issue 20 item 9): the host (manage link) and the fellow (admin page)
mark new / contacted / shortlisted / declined / offered; the applicant is emailed, kindly, when the one changing it
chooses to and the news is worth an email; every change is audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from crm import models as m
from tests import factories
from tests.conftest import post_form
from tests.internships.helpers import make_internship, sign_in
from tests.internships.test_hosts import approved, assert_valid_payload, outbox

IS = m.InterestStatus


def interest(db: Any, internship: m.Internship, name: str = "Ada Applicant", email: str = "ada@example.org") -> int:
    row = m.InternshipInterest(internship_id=internship.id, name=name, email=email, note="Keen.")
    db.add(row)
    db.commit()
    return row.id


def test_the_host_marks_shortlisted_and_the_applicant_is_told(client, db, settings):
    internship, link = approved(client, db, settings)
    token = link.split("token=")[1]
    interest_id = interest(db, internship)
    page = client.get(link)
    assert 'id="status-' in page.text and "Status for Ada Applicant" in page.text
    done = post_form(
        client,
        f"/internships/manage/{internship.id}/interests/{interest_id}",
        {"token": token, "status": "shortlisted", "notify": "1"},
        follow_redirects=True,
    )
    assert done.status_code == 200 and "we have emailed the applicant" in done.text
    db.expire_all()
    row = db.get(m.InternshipInterest, interest_id)
    assert row.status == IS.SHORTLISTED and row.notified_status == "shortlisted" and row.status_changed_at
    [message] = outbox(db, "internship_interest_status")
    assert message.recipient == "ada@example.org"
    assert "shortlist" in message.subject and "Riverside Carers Network" in message.text_body
    assert message.headers["Reply-To"] == "Rowan Host <rowan.host@riverside.example.org>"
    assert_valid_payload(message, settings)
    entry = db.scalar(select(m.AuditEntry).where(m.AuditEntry.action == "interest status"))
    assert entry.actor == "the host (private link)" and entry.entity_id == internship.id
    assert entry.changes == {"interest_status": ["New", "Shortlisted"], "applicant_emailed": [None, True]}
    assert "ada@example.org" not in str(entry.changes) + entry.summary  # no personal data in the audit trail


def test_declined_is_worded_kindly_and_sent_once(client, db, settings):
    internship, link = approved(client, db, settings)
    token = link.split("token=")[1]
    interest_id = interest(db, internship)
    url = f"/internships/manage/{internship.id}/interests/{interest_id}"
    for status in ("declined", "shortlisted", "declined", "declined"):
        post_form(client, url, {"token": token, "status": status, "notify": "1"})
    messages = outbox(db, "internship_interest_status")
    assert [m_.subject for m_ in messages] == [
        "About your interest in “Evaluation assistant with a carers' network”",
        "You are on the shortlist for “Evaluation assistant with a carers' network”",
    ]
    assert "not a judgement of you" in messages[0].text_body and "/internships" in messages[0].text_body
    assert_valid_payload(messages[0], settings)


def test_no_email_unless_chosen_and_newsworthy(client, db, settings):
    internship, link = approved(client, db, settings)
    token = link.split("token=")[1]
    interest_id = interest(db, internship)
    url = f"/internships/manage/{internship.id}/interests/{interest_id}"
    post_form(client, url, {"token": token, "status": "offered"})  # box unticked
    post_form(client, url, {"token": token, "status": "contacted", "notify": "1"})  # not news worth an email
    assert outbox(db, "internship_interest_status") == []
    db.expire_all()
    assert db.get(m.InternshipInterest, interest_id).status == IS.CONTACTED
    offered = post_form(client, url, {"token": token, "status": "offered", "notify": "1"})
    assert offered.status_code in (200, 303)
    [message] = outbox(db, "internship_interest_status")
    assert message.subject.startswith("Good news") and "would like to offer you" in message.text_body


def test_bad_status_and_other_listings_registrations_are_refused(client, db, settings):
    internship, link = approved(client, db, settings)
    token = link.split("token=")[1]
    mine = interest(db, internship)
    other = make_internship(db, factories.organisation(db, "Elsewhere"), title="Another placement")
    theirs = interest(db, other, name="Other Person", email="other@example.org")
    bad = post_form(
        client, f"/internships/manage/{internship.id}/interests/{mine}", {"token": token, "status": "hired"}
    )
    assert bad.status_code == 422 and "Choose new, contacted, shortlisted, declined or offered." in bad.text
    foreign = post_form(
        client, f"/internships/manage/{internship.id}/interests/{theirs}", {"token": token, "status": "declined"}
    )
    assert foreign.status_code == 404
    tampered = post_form(
        client, f"/internships/manage/{internship.id}/interests/{mine}", {"token": token + "x", "status": "declined"}
    )
    assert tampered.status_code == 400
    db.expire_all()
    assert db.get(m.InternshipInterest, mine).status == IS.NEW
    assert db.get(m.InternshipInterest, theirs).status == IS.NEW
    assert outbox(db, "internship_interest_status") == []


def test_statuses_after_closing_still_change(client, db, settings):
    internship, link = approved(client, db, settings)
    token = link.split("token=")[1]
    interest_id = interest(db, internship)
    post_form(client, f"/internships/manage/{internship.id}/close", {"token": token, "action": "close"})
    done = post_form(
        client, f"/internships/manage/{internship.id}/interests/{interest_id}", {"token": token, "status": "offered"}
    )
    assert done.status_code in (200, 303)
    db.expire_all()
    assert db.get(m.InternshipInterest, interest_id).status == IS.OFFERED


def test_the_fellow_and_the_host_editor_change_statuses_in_the_admin(client, db, settings):
    org = factories.organisation(db, "Hillside Collective")
    internship = make_internship(db, org, title="Peer research placement", contact_email="host@hillside.example.org")
    interest_id = interest(db, internship)
    sign_in(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    page = client.get(f"/admin/internships/{internship.id}")
    assert (
        "Status for Ada Applicant" in page.text
        and 'Save status<span class="visually-hidden"> for Ada Applicant' in page.text
    )
    done = post_form(
        client,
        f"/admin/internships/{internship.id}/interests/{interest_id}",
        {"status": "declined", "notify": "1"},
        follow_redirects=True,
    )
    assert "the applicant has been emailed" in done.text
    assert "Emailed about “Declined”" in done.text
    [message] = outbox(db, "internship_interest_status")
    assert message.headers["Reply-To"] == "Host Person <host@hillside.example.org>"
    entry = db.scalar(select(m.AuditEntry).where(m.AuditEntry.action == "interest status"))
    assert entry.actor == "fellow@example.org"
    assert "Interest status" in client.get(f"/admin/internships/{internship.id}").text  # in the history
    refused = post_form(
        client,
        f"/admin/internships/{internship.id}/interests/{interest_id}",
        {"status": "hired"},
        follow_redirects=True,
    )
    assert "Choose new, contacted, shortlisted, declined or offered." in refused.text
    # The host organisation's editor may; another organisation's editor may not.
    sign_in(client, db, settings, "host.editor@example.org", m.Role.EDITOR, org_id=org.id)
    ok = post_form(client, f"/admin/internships/{internship.id}/interests/{interest_id}", {"status": "contacted"})
    assert ok.status_code in (200, 303)
    stranger = factories.organisation(db, "Stranger Org")
    sign_in(client, db, settings, "other.editor@example.org", m.Role.EDITOR, org_id=stranger.id)
    forbidden = post_form(client, f"/admin/internships/{internship.id}/interests/{interest_id}", {"status": "offered"})
    assert forbidden.status_code == 403
    assert post_form(client, f"/admin/internships/{internship.id}/manage-link").status_code == 403  # fellow only
    db.expire_all()
    assert db.get(m.InternshipInterest, interest_id).status == IS.CONTACTED
    api = client.get(f"/api/v1/internships/{internship.id}/interests")
    assert api.status_code == 403
    sign_in(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    assert client.get(f"/api/v1/internships/{internship.id}/interests").json()[0]["status"] == "contacted"
