"""Where "Involvement opportunities" appears in the subscription pages: not offered on the subscribe form (it comes
with the network), offered in a member's preference centre, where unticking stops the emails and keeps membership."""

from __future__ import annotations

from sqlalchemy import select

from crm import models as m
from crm.involvement import network
from crm.mailing.compliance import preferences_url
from tests.conftest import post_form
from tests.involvement.network_helpers import join_and_confirm, path_of


def _prefs(client, settings, email: str) -> str:
    return path_of(preferences_url(client.app.state.signer, settings, email))


def test_the_subscribe_form_points_to_the_network_instead_of_offering_the_mailing(client) -> None:
    page = client.get("/subscribe")
    assert 'value="involvement"' not in page.text and 'href="/involvement/network"' in page.text
    r = post_form(
        client,
        "/subscribe",
        {"email": "x@example.org", "mailings": ["involvement"], "consent": "yes", "consent_version": "2026-11-v1"},
    )
    assert r.status_code == 400 and "Choose from the mailings listed." in r.text


def test_a_member_sees_it_in_their_preferences_and_can_stop_it_and_stay_a_member(client, db, settings) -> None:
    join_and_confirm(client, db, "member@example.org")
    sub = db.scalar(select(m.Subscription).where(m.Subscription.email == "member@example.org"))
    sub.mailings = ["news", "involvement"]
    db.commit()
    url = _prefs(client, settings, "member@example.org")
    page = client.get(url)
    assert page.status_code == 200
    assert 'value="involvement" checked' in page.text and "Involvement opportunities" in page.text
    assert "/involvement/network/you/" in page.text
    r = post_form(client, url, {"action": "save", "mailings": ["news"], "frequency": "weekly"})
    assert r.status_code == 200 and "Your choices are saved." in r.text
    db.expire_all()
    assert db.get(m.Subscription, sub.id).mailings == ["news"]
    assert network.by_email(db, "member@example.org").status == m.NetworkMemberStatus.ACTIVE
    assert not network.alerts_on(db, "member@example.org")
    back = post_form(client, url, {"action": "save", "mailings": ["news", "involvement"], "frequency": "weekly"})
    assert back.status_code == 200
    db.expire_all()
    assert db.get(m.Subscription, sub.id).mailings == ["news", "involvement"]


def test_a_subscriber_who_is_not_a_member_is_not_offered_it(client, db, settings) -> None:
    db.add(
        m.Subscription(
            email="reader@example.org", status=m.SubscriptionStatus.ACTIVE, mailings=["news"], topics=[], regions=[]
        )
    )
    db.commit()
    url = _prefs(client, settings, "reader@example.org")
    assert 'value="involvement"' not in client.get(url).text
    r = post_form(client, url, {"action": "save", "mailings": ["news", "involvement"], "frequency": "weekly"})
    assert r.status_code == 400 and "Choose from the mailings listed." in r.text


def test_after_unsubscribing_from_everything_a_member_is_shown_the_way_back(client, db, settings) -> None:
    join_and_confirm(client, db, "gone.quiet@example.org")
    url = _prefs(client, settings, "gone.quiet@example.org")
    post_form(client, url, {"action": "unsubscribe_all"})
    page = client.get(url)
    assert "You are not receiving any emails from us." in page.text
    assert "You are still in the lived experience network." in page.text and "/involvement/network/you/" in page.text
