"""RFC 8058 one-click unsubscribe, GET/HEAD safety, and signed-link rules."""

from __future__ import annotations

from litestar.testing import TestClient
from sqlalchemy import func, select

from crm import models as m
from crm.mailing import compliance
from crm.settings import Settings
from crm.tokens import Signer, TokenError


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def _active(db, email="ann@example.org"):
    sub = m.Subscription(
        email=email,
        status=m.SubscriptionStatus.ACTIVE,
        mailings=["funding_digest", "event_news"],
        topics=[],
        regions=[],
    )
    db.add(sub)
    db.commit()
    return sub


def _state(db):
    db.expire_all()
    return (
        [(s.status.value, tuple(s.mailings)) for s in db.scalars(select(m.Subscription).order_by(m.Subscription.id))],
        db.scalar(select(func.count()).select_from(m.ConsentEntry)),
        db.scalar(select(func.count()).select_from(m.Suppression)),
    )


def test_one_click_post_urlencoded_without_cookies_or_csrf(app, db, clean):
    _active(db)
    url = compliance.unsubscribe_url(app.state.signer, app.state.settings, "ann@example.org", None)
    with TestClient(app, base_url="http://testserver.local") as fresh:
        r = fresh.post(
            _path(url),
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "GoogleOneClick"},
        )
        assert r.status_code == 200 and "location" not in r.headers
        assert "set-cookie" not in {
            k.lower() for k in r.headers if k.lower() == "set-cookie" and "crm_session" in r.headers[k]
        }
    sub = db.scalar(select(m.Subscription))
    assert sub.status == m.SubscriptionStatus.UNSUBSCRIBED
    entry = db.scalar(select(m.ConsentEntry))
    assert entry.action == m.ConsentAction.UNSUBSCRIBE_ALL and entry.mechanism == "one-click header"
    assert entry.user_agent == "GoogleOneClick" and entry.ip and entry.created_at
    before = _state(db)
    with TestClient(app, base_url="http://testserver.local") as fresh:
        assert (
            fresh.post(
                _path(url),
                content=b"List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            ).status_code
            == 200
        )
    assert _state(db) == before  # a repeat POST is idempotent


def test_one_click_post_multipart(app, db, clean):
    _active(db)
    url = compliance.unsubscribe_url(app.state.signer, app.state.settings, "ann@example.org", "event_news")
    with TestClient(app, base_url="http://testserver.local") as fresh:
        r = fresh.post(_path(url), files={"List-Unsubscribe": (None, "One-Click")})
        assert r.status_code == 200 and "location" not in r.headers
    sub = db.scalar(select(m.Subscription))
    assert sub.status == m.SubscriptionStatus.ACTIVE and sub.mailings == ["funding_digest"]


def test_get_and_head_change_nothing(client, app, db):
    _active(db)
    before = _state(db)
    unsub = _path(compliance.unsubscribe_url(app.state.signer, app.state.settings, "ann@example.org", None))
    prefs = _path(compliance.preferences_url(app.state.signer, app.state.settings, "ann@example.org"))
    page = client.get(unsub)
    assert page.status_code == 200 and 'method="post"' in page.text
    assert client.head(unsub).status_code == 200
    assert client.get(prefs).status_code == 200
    assert _state(db) == before


def test_unknown_address_gets_a_calm_answer_and_nothing_changes(client, app, db):
    before = _state(db)
    url = compliance.unsubscribe_url(app.state.signer, app.state.settings, "nobody@example.org", None)
    r = client.post(_path(url), data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 200 and "Nothing to unsubscribe" in r.text
    assert _state(db) == before


def test_contact_without_subscription_is_suppressed(client, app, db):
    db.add(m.Contact(name="Casey Invented", email="casey@example.org"))
    db.commit()
    url = compliance.unsubscribe_url(app.state.signer, app.state.settings, "casey@example.org", "event_news")
    assert client.post(_path(url), data={"List-Unsubscribe": "One-Click"}).status_code == 200
    supp = db.scalar(select(m.Suppression).where(m.Suppression.address == "casey@example.org"))
    assert supp is not None and supp.reason == "unsubscribed"


def test_tampered_and_foreign_tokens_give_a_400_page(client, app, db):
    _active(db)
    signer = app.state.signer
    url = compliance.unsubscribe_url(signer, app.state.settings, "ann@example.org", None)
    tampered = _path(url)[:-2] + ("AA" if not url.endswith("AA") else "BB")
    r = client.get(tampered)
    assert r.status_code == 400 and "cannot be used" in r.text
    assert client.post(tampered, data={"List-Unsubscribe": "One-Click"}).status_code == 400
    foreign = signer.sign("preferences", {"e": "ann@example.org", "m": None})
    assert client.post(f"/u/{foreign}", data={"List-Unsubscribe": "One-Click"}).status_code == 400
    assert db.scalar(select(m.Subscription)).status == m.SubscriptionStatus.ACTIVE


def test_tokens_rotate_and_do_not_expire():
    old = Signer(Settings(secret_keys=("old-key-" + "x" * 32,)))
    rotated = Signer(Settings(secret_keys=("new-key-" + "y" * 32, "old-key-" + "x" * 32)))
    token = old.sign("unsubscribe", {"e": "a@example.org", "m": None})
    assert compliance.unsubscribe_payload(rotated, token) == ("a@example.org", None)
    assert rotated.verify("unsubscribe", token) == {"e": "a@example.org", "m": None}  # no max_age for unsubscribe
    removed = Signer(Settings(secret_keys=("new-key-" + "y" * 32,)))
    try:
        removed.verify("unsubscribe", token)
        raise AssertionError("a token signed with a removed key must fail")
    except TokenError:
        pass


def test_list_unsubscribe_headers_shape(app):
    headers = compliance.list_unsubscribe_headers(
        app.state.signer, app.state.settings, "a@example.org", "funding_digest"
    )
    parts = [p.strip() for p in headers["List-Unsubscribe"].split(",")]
    assert parts[0].startswith("<http") and parts[0].endswith(">") and "/u/" in parts[0]
    assert parts[1].startswith("<mailto:") and parts[1].endswith(">")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
