"""Admin views: subscribers (shared list pattern) with consent history, outbox with resend, suppression list."""

from __future__ import annotations

from sqlalchemy import select

from crm import models as m
from crm.mailing import consent
from tests.conftest import post_form


def _subs(db, n=30):
    for i in range(n):
        db.add(
            m.Subscription(
                email=f"s{i:02d}@example.org",
                name=f"Subscriber {i:02d}",
                status=m.SubscriptionStatus.ACTIVE if i % 2 else m.SubscriptionStatus.PENDING,
                mailings=["funding_digest"] if i % 3 else ["event_news"],
                topics=[],
                regions=[],
            )
        )
    db.commit()


def test_subscribers_list_pages_filters_and_counts(admin_client, db, count_queries):
    _subs(db)
    r = admin_client.get("/admin/subscribers?sort=email")
    assert r.status_code == 200 and "s00@example.org" in r.text and "Next" in r.text
    r = admin_client.get("/admin/subscribers?status=active&mailing=event_news&sort=email")
    assert "s03@example.org" in r.text and "s02@example.org" not in r.text and "s01@example.org" not in r.text
    fragment = admin_client.get("/admin/subscribers?q=s1", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text and "s10@example.org" in fragment.text
    with count_queries() as small:
        admin_client.get("/admin/subscribers?page_size=5")
    with count_queries() as big:
        admin_client.get("/admin/subscribers?page_size=100")
    assert small.count == big.count


def test_subscriber_detail_shows_consent_history(admin_client, db):
    sub = m.Subscription(
        email="ann@example.org",
        name="Ann Invented",
        status=m.SubscriptionStatus.ACTIVE,
        mailings=["funding_digest"],
        topics=[],
        regions=[],
    )
    db.add(sub)
    db.flush()
    consent.log_consent(
        db,
        sub,
        sub.email,
        m.ConsentAction.SUBSCRIBE,
        consent.How(source_url="/subscribe", ip="10.0.0.1", user_agent="UA"),
        version=consent.CONSENT_VERSION,
    )
    db.commit()
    r = admin_client.get(f"/admin/subscribers/{sub.id}")
    assert (
        r.status_code == 200
        and "Consent history" in r.text
        and "10.0.0.1" in r.text
        and consent.CONSENT_VERSION in r.text
    )
    assert admin_client.get("/admin/subscribers/999999").status_code == 404


def test_admin_pages_need_an_admin(client):
    for url in ("/admin/subscribers", "/admin/suppressions", "/admin/mail"):
        r = client.get(url, follow_redirects=False)
        assert r.status_code in (302, 303, 401, 403)


def test_suppression_add_and_lift_with_audit(admin_client, db):
    r = post_form(
        admin_client, "/admin/suppressions", {"email": "Pat@Example.org", "reason": "manual", "note": "asked by phone"}
    )
    assert r.status_code == 200 and "pat@example.org is now suppressed" in r.text
    row = db.scalar(select(m.Suppression).where(m.Suppression.address == "pat@example.org"))
    assert row.reason == "manual" and row.lifted_at is None
    r = post_form(admin_client, "/admin/suppressions", {"email": "bad", "reason": "manual", "note": ""})
    assert r.status_code == 400
    r = post_form(admin_client, f"/admin/suppressions/{row.id}/lift", {"note": "wrote to us again"})
    assert r.status_code == 200 and "lifted" in r.text
    db.expire_all()
    assert db.get(m.Suppression, row.id).lifted_at is not None
    actions = db.scalars(select(m.AuditEntry.action).order_by(m.AuditEntry.id)).all()
    assert actions == ["suppression.add", "suppression.lift"]


def test_outbox_detail_and_resend_failed(admin_client, db):
    msg = m.OutboxMessage(
        idempotency_key="x",
        kind="sign_in",
        recipient="a@example.org",
        subject="Hello",
        status=m.OutboxStatus.FAILED,
        attempts=3,
        last_error="SendGrid 400: bad",
        provider_message_id="",
        text_body="t",
        html_body="<p>h</p>",
    )
    db.add(msg)
    db.commit()
    r = admin_client.get(f"/admin/mail/{msg.id}")
    assert r.status_code == 200 and "SendGrid 400: bad" in r.text and "Send this message again" in r.text
    assert admin_client.get("/admin/mail?status=failed").status_code == 200
    html = admin_client.get(f"/admin/mail/{msg.id}/html")
    assert "sandbox" in html.headers["content-security-policy"]
    r = post_form(admin_client, f"/admin/mail/{msg.id}/resend", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/admin/mail/{msg.id}?notice=resent"
    assert "The message is queued again." in admin_client.get(r.headers["location"]).text
    assert "The message is queued again." in admin_client.get(f"/admin/mail/{msg.id}?resent=1").text  # older links
    assert "The message is queued again." not in admin_client.get(f"/admin/mail/{msg.id}").text
    db.expire_all()
    row = db.get(m.OutboxMessage, msg.id)
    assert row.status == m.OutboxStatus.QUEUED and row.attempts == 0
    assert db.scalar(select(m.AuditEntry.action)) == "outbox.resend"
