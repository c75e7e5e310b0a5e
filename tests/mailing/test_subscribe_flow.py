"""Subscribe → confirm → preferences → unsubscribe through the web, with the consent log and the outbox."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from crm import models as m
from crm.mailing import compliance, consent, suppression
from crm.mailing import subscriptions as subs
from tests.conftest import post_form


def _form(email: str = "sam@example.org", **extra):
    data = {
        "email": email,
        "name": "Sam Example",
        "organisation": "Example Mind",
        "mailings": ["funding_digest", "event_news"],
        "frequency": "weekly",
        "consent": "yes",
        "consent_version": consent.CONSENT_VERSION,
    }
    data.update(extra)
    return data


def _confirm_link(db, email: str) -> str:
    msg = db.scalar(
        select(m.OutboxMessage)
        .where(m.OutboxMessage.recipient == email, m.OutboxMessage.kind == "subscription_confirm")
        .order_by(m.OutboxMessage.id.desc())
    )
    assert msg is not None
    match = re.search(r"(/subscribe/confirm/[A-Za-z0-9_.\-]+)", msg.text_body)
    assert match
    return match.group(1)


def _sub(db, email="sam@example.org") -> m.Subscription:
    db.expire_all()
    return db.scalar(select(m.Subscription).where(m.Subscription.email == email))


def _consent_actions(db, email="sam@example.org") -> list[str]:
    db.expire_all()
    return [
        c.action.value
        for c in db.scalars(select(m.ConsentEntry).where(m.ConsentEntry.email == email).order_by(m.ConsentEntry.id))
    ]


def test_form_to_confirmed_to_unsubscribed(client, db, app):
    topic = db.scalar(select(m.Topic).order_by(m.Topic.id))
    region = db.scalar(select(m.Region).order_by(m.Region.id))
    page = client.get("/subscribe")
    assert page.status_code == 200 and 'name="consent"' in page.text and "checked" in page.text
    r = post_form(
        client,
        "/subscribe",
        _form(email="Sam@Example.org", topics=[str(topic.id)], regions=[str(region.id)]),
        headers={"user-agent": "TestBrowser/1.0"},
    )
    assert r.status_code == 200 and "Check your email" in r.text
    sub = _sub(db)
    assert sub.status == m.SubscriptionStatus.PENDING and sub.mailings == ["funding_digest", "event_news"]
    entry = db.scalar(select(m.ConsentEntry).where(m.ConsentEntry.email == "sam@example.org"))
    assert entry.action == m.ConsentAction.SUBSCRIBE and entry.consent_version == consent.CONSENT_VERSION
    assert entry.user_agent == "TestBrowser/1.0" and entry.source_url == "/subscribe" and entry.ip
    assert entry.topics == [topic.slug] and entry.regions == [region.slug]
    # The confirmation email is transactional: no List-Unsubscribe.
    confirm_msg = db.scalar(select(m.OutboxMessage).where(m.OutboxMessage.kind == "subscription_confirm"))
    assert not confirm_msg.bulk and "List-Unsubscribe" not in confirm_msg.headers

    link = _confirm_link(db, "sam@example.org")
    before = _consent_actions(db)
    page = client.get(link)
    assert page.status_code == 200 and "<form" in page.text and _sub(db).status == m.SubscriptionStatus.PENDING
    assert _consent_actions(db) == before  # GET changed nothing
    done = post_form(client, link)
    assert done.status_code == 200 and "You are subscribed" in done.text
    assert _sub(db).status == m.SubscriptionStatus.ACTIVE and _sub(db).confirmed_at is not None
    again = post_form(client, link)  # clicked twice: still fine, no second confirm entry
    assert again.status_code == 200
    assert _consent_actions(db) == ["subscribe", "confirm"]

    signer = app.state.signer
    url = compliance.unsubscribe_url(signer, app.state.settings, "sam@example.org", None)
    path = url.split("://", 1)[1].split("/", 1)[1]
    assert client.get("/" + path).status_code == 200
    assert client.head("/" + path).status_code == 200
    assert _sub(db).status == m.SubscriptionStatus.ACTIVE
    r = post_form(client, "/" + path)
    assert r.status_code == 200 and "You are unsubscribed" in r.text
    assert _sub(db).status == m.SubscriptionStatus.UNSUBSCRIBED
    supp = db.scalar(select(m.Suppression).where(m.Suppression.address == "sam@example.org"))
    assert supp.reason == "unsubscribed" and supp.lifted_at is None
    assert _consent_actions(db) == ["subscribe", "confirm", "unsubscribe_all"]


def test_posting_twice_does_not_duplicate(client, db):
    post_form(client, "/subscribe", _form())
    post_form(client, "/subscribe", _form())
    assert db.scalar(select(func.count()).select_from(m.Subscription)) == 1
    assert db.scalar(select(func.count()).select_from(m.OutboxMessage)) == 1
    assert _consent_actions(db) == ["subscribe"]


def test_resubscribe_after_unsubscribe_starts_new_pending_confirmation(client, db, app):
    post_form(client, "/subscribe", _form())
    post_form(client, _confirm_link(db, "sam@example.org"))
    old_link = _confirm_link(db, "sam@example.org")
    subs.unsubscribe(db, "sam@example.org", None, consent.How())
    db.commit()
    r = post_form(client, "/subscribe", _form())
    assert r.status_code == 200 and "Check your email" in r.text
    assert _sub(db).status == m.SubscriptionStatus.PENDING
    assert (
        db.scalar(
            select(func.count()).select_from(m.OutboxMessage).where(m.OutboxMessage.kind == "subscription_confirm")
        )
        == 2
    )
    new_link = _confirm_link(db, "sam@example.org")
    assert new_link != old_link
    assert post_form(client, old_link).status_code == 400  # superseded by the newer confirmation
    assert post_form(client, new_link).status_code == 200
    assert _sub(db).status == m.SubscriptionStatus.ACTIVE
    supp = db.scalar(select(m.Suppression).where(m.Suppression.address == "sam@example.org"))
    assert supp.lifted_at is not None  # a fresh, confirmed consent lifts the unsubscribe suppression
    assert _consent_actions(db) == ["subscribe", "confirm", "unsubscribe_all", "subscribe", "confirm"]


def test_suppressed_address_is_refused_politely(client, db):
    suppression.suppress(db, "bounced@example.org", "bounce", "sendgrid", "550 no such user")
    db.commit()
    r = post_form(client, "/subscribe", _form(email="bounced@example.org"))
    assert r.status_code == 200 and "cannot subscribe" in r.text and "bounce" not in r.text.lower()
    assert db.scalar(select(func.count()).select_from(m.Subscription)) == 0
    assert db.scalar(select(func.count()).select_from(m.OutboxMessage)) == 0


def test_already_active_gets_a_manage_email_and_nothing_changes(client, db):
    post_form(client, "/subscribe", _form())
    post_form(client, _confirm_link(db, "sam@example.org"))
    r = post_form(client, "/subscribe", _form(mailings=["internship_alerts"]))
    assert r.status_code == 200 and "Check your email" in r.text
    assert _sub(db).mailings == ["funding_digest", "event_news"]
    kinds = db.scalars(select(m.OutboxMessage.kind).order_by(m.OutboxMessage.id)).all()
    assert kinds == ["subscription_confirm", "subscription_manage"]


def test_bad_input_is_answered_clearly(client, db):
    r = post_form(client, "/subscribe", _form(email="not-an-email"))
    assert r.status_code == 400 and "valid email address" in r.text
    r = post_form(client, "/subscribe", _form(name="Sam\r\nBcc: victim@example.org"))
    assert r.status_code == 400 and "single line" in r.text
    r = post_form(client, "/subscribe", _form(email="someone@mailinator.com"))
    assert r.status_code == 400 and "temporary inbox" in r.text
    r = post_form(client, "/subscribe", _form(consent=""))
    assert r.status_code == 400 and "Tick the box" in r.text
    r = post_form(client, "/subscribe", _form(mailings=["spam"]))
    assert r.status_code == 400
    r = post_form(client, "/subscribe", _form(consent_version="1999"))
    assert r.status_code == 400
    assert db.scalar(select(func.count()).select_from(m.Subscription)) == 0


def test_subscribe_is_rate_limited(client, db):
    codes = [post_form(client, "/subscribe", _form(email=f"p{i}@example.org")).status_code for i in range(22)]
    assert codes[:20] == [200] * 20 and codes[-1] == 429


def test_confirmation_links_tampered_expired_or_foreign(client, db, app):
    post_form(client, "/subscribe", _form())
    link = _confirm_link(db, "sam@example.org")
    assert client.get(link[:-3] + "abc").status_code == 400
    assert post_form(client, link[:-3] + "abc").status_code == 400
    token = link.rsplit("/", 1)[1]
    signer = app.state.signer
    # A token signed for another purpose is rejected.
    foreign = signer.sign("preferences", signer.verify("confirm-subscription", token))
    assert client.get(f"/subscribe/confirm/{foreign}").status_code == 400
    # Expired after 48 hours.
    import pytest

    from crm.tokens import TokenError

    with pytest.raises(TokenError) as exc:
        signer.verify("confirm-subscription", token, max_age=-1)
    assert exc.value.expired
    assert _sub(db).status == m.SubscriptionStatus.PENDING


def test_preference_centre_changes_and_logs(client, db, app):
    post_form(client, "/subscribe", _form())
    post_form(client, _confirm_link(db, "sam@example.org"))
    url = compliance.preferences_url(app.state.signer, app.state.settings, "sam@example.org")
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    page = client.get(path)
    assert page.status_code == 200 and "Save my choices" in page.text
    topic = db.scalar(select(m.Topic).order_by(m.Topic.id))
    r = post_form(
        client,
        path,
        {"action": "save", "mailings": ["funding_digest"], "topics": [str(topic.id)], "frequency": "monthly"},
    )
    assert r.status_code == 200 and "saved" in r.text
    sub = _sub(db)
    assert sub.mailings == ["funding_digest"] and sub.frequency == m.Frequency.MONTHLY
    r = post_form(client, path, {"action": "pause"})
    assert _sub(db).status == m.SubscriptionStatus.PAUSED
    r = post_form(client, path, {"action": "resume"})
    assert _sub(db).status == m.SubscriptionStatus.ACTIVE
    r = post_form(client, path, {"action": "unsubscribe_all"})
    assert _sub(db).status == m.SubscriptionStatus.UNSUBSCRIBED
    assert _consent_actions(db) == ["subscribe", "confirm", "preferences", "pause", "resume", "unsubscribe_all"]
    assert client.get(path[:-4] + "abcd").status_code == 400


def test_one_mailing_unsubscribe_keeps_the_others(client, db, app):
    post_form(client, "/subscribe", _form())
    post_form(client, _confirm_link(db, "sam@example.org"))
    url = compliance.unsubscribe_url(app.state.signer, app.state.settings, "sam@example.org", "event_news")
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    r = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 200
    sub = _sub(db)
    assert sub.status == m.SubscriptionStatus.ACTIVE and sub.mailings == ["funding_digest"]
    client.post(path, data={"List-Unsubscribe": "One-Click"})  # idempotent
    assert _consent_actions(db) == ["subscribe", "confirm", "unsubscribe"]
