"""Where the record of involvement shows beyond its own list: the organisation page's section, the partnership page
(the fellow only), and the organisation's and a contact's timelines."""

from __future__ import annotations

import datetime as dt

from crm import models as m
from crm.involvement import sections
from crm.timeline.query import Owner, timeline
from tests import factories
from tests.conftest import sign_in_as
from tests.dashboard import factories as f
from tests.involvement import records_builders as b


def _group_with_history(db):
    group = factories.organisation(db, "Invented Voices Group", public_email="voices@example.org")
    request = b.consultation(db, title="Invented waiting-times consultation")
    b.recipient(db, request, group, email="voices@example.org", answer=m.ConsultationAnswer.YES, answered_at=f.NOW)
    opp = b.opportunity(db, title="Invented group-led advisory panel", organisation_id=group.id)
    rec = b.record(
        db,
        activity="Invented group session",
        organisation_id=group.id,
        consultation_request_id=request.id,
        minutes=150,
        payment_pence=5000,
        expenses_pence=600,
        recognition=m.Recognition.ACKNOWLEDGED,
        took_part_on=dt.date(2026, 10, 2),
    )
    return group, request, opp, rec


def test_the_organisation_page_shows_its_involvement(admin_client, db):
    group, request, opp, rec = _group_with_history(db)
    db.commit()
    page = admin_client.get(f"/admin/organisations/{group.id}")
    assert page.status_code == 200
    assert "<h2>Involvement</h2>" in page.text
    assert "1 record of involvement: 2 hours 30 minutes, £50 paid, £6 expenses." in page.text
    assert f'href="/admin/involvement/records/{rec.id}/edit">Invented group session</a>' in page.text
    assert f'href="/admin/involvement/consultations/{request.id}">Invented waiting-times consultation</a>' in page.text
    assert "yes, we can help" in page.text
    assert f'href="/admin/involvement/{opp.id}">Invented group-led advisory panel</a>' in page.text
    assert f"/admin/involvement/records/new?organisation={group.id}" in page.text


def test_an_organisation_without_involvement_says_so_in_few_statements(admin_client, db, count_queries):
    org = factories.organisation(db)
    db.commit()
    with count_queries() as q:
        found = sections.admin_sections(db, org.id)
    assert q.count == 4
    assert found[0].context["involvement"].rows == []
    assert "No records of involvement yet." in admin_client.get(f"/admin/organisations/{org.id}").text


def test_the_partnership_page_shows_involvement_to_the_fellow_only(client, db, settings):
    p = f.partnership(db, title="Invented co-produced study")
    b.record(
        db,
        activity="Invented co-authored paper",
        partnership_id=p.id,
        person_name="Invented Coauthor",
        minutes=600,
        payment_pence=40000,
        recognition=m.Recognition.NAMED_COAUTHOR,
    )
    db.commit()
    sign_in_as(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    page = client.get(f"/admin/partnerships/{p.id}")
    assert page.status_code == 200 and 'id="involvement-h"' in page.text
    assert "Invented co-authored paper" in page.text and "Named co-author" in page.text
    assert "1 record of involvement: 10 hours, £400 paid" in page.text
    assert f"/admin/involvement/records/new?partnership={p.id}" in page.text


def test_the_organisation_timeline_lists_its_records(admin_client, db):
    group, _, _, rec = _group_with_history(db)
    db.commit()
    page = timeline(db, Owner(organisation_id=group.id), kinds=["involvement"])
    assert [i.id for i in page.items] == [rec.id]
    item = page.items[0]
    assert item.label == "Took part in involvement" and item.title == "Invented group session"
    assert item.lines == [
        "On 2 October 2026",
        "2 hours 30 minutes",
        "£50 paid, £6 expenses",
        "Acknowledged",
    ]
    html = admin_client.get(f"/admin/organisations/{group.id}/timeline?kind=involvement").text
    assert "Took part in involvement" in html and f"/admin/involvement/records/{rec.id}/edit" in html


def test_a_contacts_timeline_lists_what_they_did_as_a_network_member(db):
    contact = factories.contact(db, "Invented Networkcontact", "network.contact@example.org")
    member = b.member(db, "network.contact@example.org", "Invented Networkcontact")
    rec = b.record(db, activity="Invented advisory meeting", member_id=member.id, person_name=member.name, minutes=90)
    b.record(db, activity="Someone else's meeting", person_name="Invented Other")
    db.flush()
    items = timeline(db, Owner(contact_id=contact.id, contact_email=contact.email), kinds=["involvement"]).items
    assert [i.id for i in items] == [rec.id]
    assert items[0].lines[0] == "Invented Networkcontact took part"
