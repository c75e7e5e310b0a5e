"""Privacy on rows the real involvement pages and jobs wrote (not hand-made ones): a person joins the network and
confirms, gets an alert, expresses interest, is recorded as taking part; the subject-access export shows all of it,
and erasure leaves nothing of them in any table of the database."""

from __future__ import annotations

from sqlalchemy import func, select

from crm import models as m
from crm.involvement.network_jobs import send_alerts
from crm.runtime import Runtime
from tests import factories
from tests.conftest import post_form
from tests.involvement import records_builders as b
from tests.involvement.network_helpers import join_and_confirm
from tests.involvement.opportunities_factory import make_opportunity
from tests.privacy.test_erasure import find_everywhere

EMAIL = "journey.person@example.org"
NAME = "Invented Journeyperson"


def test_export_and_erasure_of_a_network_member_made_through_the_pages(client, admin_client, db, settings):
    topic = factories.topic(db, "Psychosis")
    db.commit()
    member = join_and_confirm(
        client,
        db,
        EMAIL,
        name=NAME,
        topics=[str(topic.id)],
        access_needs=f"{NAME} needs papers in large print",
        experience="Heard voices for ten years",
    )
    opp = make_opportunity(db, title="Invented journey panel", topic_ids=[str(topic.id)])
    db.commit()
    rt = Runtime(settings)
    try:
        assert send_alerts(rt) >= 1  # the alert to the member is queued through the outbox
    finally:
        rt.engine.dispose()
    page = post_form(
        client,
        f"/involvement/{opp.slug}/interest",
        {"name": NAME, "email": EMAIL, "note": "I would like to help", "access_needs": "Breaks", "consent": "1"},
    )
    assert page.status_code == 200
    b.record(db, activity="Invented journey meeting", member_id=member.id, person_name=NAME, minutes=60)
    db.commit()

    tables = {t for t, _, _ in find_everywhere(db, EMAIL, NAME)}
    assert {"network_members", "involvement_interests", "involvement_records", "subscriptions"} <= tables
    assert {"consent_entries", "outbox_messages"} <= tables

    data = admin_client.get(f"/admin/privacy/export.json?email={EMAIL}").json()
    assert data["involvement_network_member"][0]["experience"] == "Heard voices for ten years"
    assert "involvement" in data["subscriptions"][0]["mailings"]
    assert data["involvement_interests"][0]["note"] == "I would like to help"
    assert data["involvement_records"][0]["activity"] == "Invented journey meeting"
    assert any(e["kind"].startswith("involvement") for e in data["emails_sent"])

    done = post_form(admin_client, "/admin/privacy/erase", {"email": EMAIL, "confirm": "yes"}, follow_redirects=False)
    assert done.status_code == 303
    db.expire_all()
    assert find_everywhere(db, EMAIL, NAME) == []
    assert db.scalar(select(func.count()).select_from(m.NetworkMember)) == 0
    assert db.scalar(select(func.count()).select_from(m.InvolvementInterest)) == 1  # the opportunity's count stays
    assert db.scalar(select(m.InvolvementRecord.minutes)) == 60
