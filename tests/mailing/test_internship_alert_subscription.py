"""Internship alerts through the subscription system: the /internships link pre-fills /subscribe, the chosen
filters are stored on the subscription, and the preference centre shows and changes them."""

from __future__ import annotations

from sqlalchemy import select

from crm import models as m
from crm.internships.alerts import stored_filters
from crm.mailing import compliance
from tests.conftest import post_form


def test_alert_link_prefills_the_subscribe_form(client):
    page = client.get(
        "/subscribe?mailings=internship_alerts&direction=researcher-to-vcse&mode=remote&paid=paid&hours=20"
    )
    assert page.status_code == 200
    html = page.text
    assert 'value="researcher-to-vcse" selected' in html
    assert 'name="mode" value="remote" checked' in html
    assert 'value="internship_alerts" checked' in html or 'value="internship_alerts"  checked' in html


def test_subscribe_stores_internship_filters_and_preferences_change_them(client, db, app, settings):
    topic = db.scalar(select(m.Topic).order_by(m.Topic.id))
    response = post_form(
        client,
        "/subscribe",
        {
            "email": "ecr@example.org",
            "name": "Early Researcher",
            "mailings": ["internship_alerts"],
            "topics": [str(topic.id)],
            "frequency": "weekly",
            "consent": "yes",
            "consent_version": _consent_version(client),
            "direction": "researcher-to-vcse",
            "mode": ["remote", "hybrid"],
            "paid": "paid",
            "hours": "21",
        },
    )
    assert response.status_code == 200, response.text
    sub = db.scalar(select(m.Subscription).where(m.Subscription.email == "ecr@example.org"))
    assert stored_filters(sub.filters) == {
        "direction": "researcher-to-vcse",
        "modes": ["remote", "hybrid"],
        "paid": "paid",
        "max_hours": 21,
    }

    bad = post_form(
        client,
        "/subscribe",
        {
            "email": "other@example.org",
            "mailings": ["internship_alerts"],
            "frequency": "weekly",
            "consent": "yes",
            "consent_version": _consent_version(client),
            "hours": "500",
        },
    )
    assert bad.status_code == 400 and "between 1 and 60" in bad.text

    sub.status = m.SubscriptionStatus.ACTIVE
    db.commit()
    token = compliance.preferences_url(app.state.signer, settings, sub.email).rsplit("/", 1)[-1]
    prefs = client.get(f"/preferences/{token}")
    assert 'value="researcher-to-vcse" selected' in prefs.text
    saved = post_form(
        client,
        f"/preferences/{token}",
        {
            "action": "save",
            "mailings": ["internship_alerts", "funding_digest"],
            "frequency": "weekly",
            "paid": "unpaid",
        },
    )
    assert saved.status_code == 200
    db.expire_all()
    sub = db.scalar(select(m.Subscription).where(m.Subscription.email == "ecr@example.org"))
    assert stored_filters(sub.filters) == {"paid": "unpaid"}
    entries = db.scalars(select(m.ConsentEntry.action).where(m.ConsentEntry.email == "ecr@example.org")).all()
    assert m.ConsentAction.PREFERENCES in entries


def _consent_version(client) -> str:
    import re

    return re.search(r'name="consent_version" value="([^"]+)"', client.get("/subscribe").text).group(1)


def test_funders_chosen_on_subscribe_are_stored_and_only_funders_count(client, db):
    funder = m.Organisation(
        name="Example Health Fund",
        name_normalised="example health fund",
        slug="example-health-fund",
        kind=m.OrgKind.FUNDER,
    )
    charity = m.Organisation(
        name="Example Charity", name_normalised="example charity", slug="example-charity", kind=m.OrgKind.VCSE
    )
    db.add_all([funder, charity])
    db.commit()
    page = client.get("/subscribe")
    assert (
        f'name="funders" value="{funder.id}"' in page.text and f'name="funders" value="{charity.id}"' not in page.text
    )
    response = post_form(
        client,
        "/subscribe",
        {
            "email": "fund@example.org",
            "mailings": ["funding_digest"],
            "frequency": "weekly",
            "consent": "yes",
            "consent_version": _consent_version(client),
            "funders": [str(funder.id), str(charity.id)],
        },
    )
    assert response.status_code == 200
    sub = db.scalar(select(m.Subscription).where(m.Subscription.email == "fund@example.org"))
    assert sub.funder_ids == [funder.id]
