"""Magic-link sign-in, sessions, guards, CSRF and rate limits."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlparse

from sqlalchemy import func, select

from crm import models as m
from crm.accounts import services
from tests.conftest import post_form, sign_in_as


def _link_from_outbox(db) -> str:
    message = db.scalar(
        select(m.OutboxMessage).where(m.OutboxMessage.kind == "sign_in").order_by(m.OutboxMessage.id.desc())
    )
    assert message is not None
    match = re.search(r"(http://\S+/sign-in/verify\?token=\S+)", message.text_body)
    assert match
    return match.group(1)


def _token(link: str) -> str:
    return parse_qs(urlparse(link).query)["token"][0]


def test_sign_in_round_trip(client, db):
    services.ensure_user(db, "fellow@example.org", m.Role.ADMIN)
    db.commit()
    response = post_form(client, "/sign-in", {"email": "Fellow@Example.org", "next": "/admin/mail"})
    assert response.status_code == 200
    assert "Check your email" in response.text
    link = _link_from_outbox(db)
    token = _token(link)

    # GET only shows a button: a mail scanner following the link signs nobody in.
    page = client.get(f"/sign-in/verify?token={token}")
    assert page.status_code == 200 and 'action="/sign-in/verify"' in page.text
    assert db.scalar(select(m.SignInToken.used_at)) is None

    done = post_form(client, "/sign-in/verify", {"token": token}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/admin/mail"
    assert client.get("/admin").status_code == 200

    again = post_form(client, "/sign-in/verify", {"token": token}, follow_redirects=False)
    assert again.status_code == 400 and "already been used" in again.text


def test_same_answer_for_unknown_address(client, db):
    known = services.ensure_user(db, "known@example.org", m.Role.ADMIN)
    db.commit()
    a = post_form(client, "/sign-in", {"email": "nobody@example.org"})
    b = post_form(client, "/sign-in", {"email": known.email})
    strip = lambda html: html.replace("nobody@example.org", "X").replace("known@example.org", "X")  # noqa: E731
    assert a.status_code == b.status_code == 200
    assert re.sub(r'value="[^"]+"', "", strip(a.text)) == re.sub(r'value="[^"]+"', "", strip(b.text))
    assert db.scalar(select(func.count()).select_from(m.OutboxMessage)) == 1


def test_expired_link_explains_and_offers_new_one(client, db, settings, app):
    user = services.ensure_user(db, "late@example.org", m.Role.ADMIN)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)
    link = services.issue_sign_in_link(db, app.state.signer, settings, user, now=past)
    db.commit()
    page = client.get(f"/sign-in/verify?token={_token(link)}")
    assert page.status_code == 400
    assert "expired" in page.text and 'action="/sign-in"' in page.text


def test_tampered_link_is_refused(client):
    page = client.get("/sign-in/verify?token=not-a-token")
    assert page.status_code == 400 and "not valid" in page.text


def test_invalid_email_rerenders_form_with_message(client):
    response = post_form(client, "/sign-in", {"email": "not an email"})
    assert response.status_code == 400
    assert "valid email address" in response.text and 'aria-invalid="true"' in response.text


def test_sign_in_rate_limited(client, db, settings):
    for _ in range(settings.sign_in_rate_per_hour):
        assert post_form(client, "/sign-in", {"email": "someone@example.org"}).status_code == 200
    limited = post_form(client, "/sign-in", {"email": "someone@example.org"})
    assert limited.status_code == 429 and "Too many" in limited.text


def test_missing_csrf_token_is_403_page(client):
    client.get("/sign-in")
    response = client.post("/sign-in", data={"email": "a@example.org"})
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"] and "expired" in response.text


def test_anonymous_html_redirects_and_api_gets_401(client):
    page = client.get("/admin/mail", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/sign-in?next=%2Fadmin%2Fmail"
    api = client.get("/api/v1/me")
    assert api.status_code == 401
    assert api.headers["content-type"].startswith("application/problem+json")
    assert api.json()["status"] == 401


def test_viewer_cannot_open_admin_only_pages(client, db, settings):
    sign_in_as(client, db, settings, "viewer@example.org", m.Role.VIEWER)
    assert client.get("/admin").status_code == 200
    assert client.get("/admin/mail").status_code == 403


def test_sign_out_ends_the_session(admin_client, db):
    assert admin_client.get("/admin").status_code == 200
    response = post_form(admin_client, "/sign-out", follow_redirects=False)
    assert response.status_code == 303
    assert db.scalar(select(func.count()).select_from(m.UserSession)) == 0
    assert admin_client.get("/admin", follow_redirects=False).status_code == 303


def test_next_url_cannot_leave_the_site():
    assert services.safe_next("https://evil.example/") == "/admin"
    assert services.safe_next("//evil.example/") == "/admin"
    assert services.safe_next("/admin/mail?x=1") == "/admin/mail?x=1"


def test_api_key_bearer_auth_and_revocation(client, db):
    key, plaintext = services.create_api_key(db, "integration")
    db.commit()
    assert plaintext not in {key.key_hash, key.prefix}
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {plaintext}"})
    assert me.status_code == 200 and me.json()["via"] == "api_key"
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer wrong"}).status_code == 401
    key.revoked_at = m.utcnow()
    db.commit()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {plaintext}"}).status_code == 401
