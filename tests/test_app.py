"""Settings, errors, security headers, health, the outbox and the admin mail viewer."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm import models as m
from crm.domains import EXTENSIONS
from crm.mailing.dispatch import drain
from crm.mailing.outbox import enqueue
from crm.mailing.transports.local import LocalTransport
from crm.migrate import pending_drift
from crm.settings import DEFAULT_SECRET, Settings, SettingsError


def test_production_refuses_default_secret_and_missing_database_url(monkeypatch):
    monkeypatch.delenv("CRM_DATABASE_URL", raising=False)
    with pytest.raises(SettingsError, match="CRM_SECRET_KEY"):
        Settings(env="production", secret_keys=(DEFAULT_SECRET,)).validate()
    with pytest.raises(SettingsError, match="CRM_DATABASE_URL"):
        Settings(env="production", secret_keys=("x" * 40,)).validate()
    monkeypatch.setenv("CRM_DATABASE_URL", "postgresql://db/crm")
    ok = Settings.from_env(
        {"CRM_ENV": "production", "CRM_SECRET_KEY": "y" * 40, "CRM_DATABASE_URL": "postgresql://db/crm"}
    )
    assert ok.validate().database_url == "postgresql+psycopg://db/crm"


def test_settings_from_env_parses_types_and_key_rotation():
    s = Settings.from_env(
        {"CRM_SECRET_KEYS": "new-key, old-key", "CRM_OUTBOX_BATCH_SIZE": "7", "CRM_SMTP_STARTTLS": "yes"}
    )
    assert s.secret_keys == ("new-key", "old-key") and s.outbox_batch_size == 7 and s.smtp_starttls is True
    with pytest.raises(SettingsError, match="CRM_OUTBOX_BATCH_SIZE"):
        Settings.from_env({"CRM_OUTBOX_BATCH_SIZE": "many"})
    with pytest.raises(SettingsError, match="not a database URL"):
        Settings(database_url="nonsense").validate()


def test_models_and_migrations_agree(database):
    assert pending_drift(database.engine) == []


def test_health_reports_database(client):
    response = client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok", "database": "ok"}


def test_unknown_url_html_and_api(client):
    page = client.get("/no-such-page")
    assert page.status_code == 404 and "could not find" in page.text and "Traceback" not in page.text
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("path", ["/", "/sign-in", "/health", "/no-such-page", "/api/v1/me"])
def test_security_headers_on_every_response(client, path):
    headers = client.get(path).headers
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"


def test_base_layout_is_accessible_without_javascript(client):
    html = client.get("/").text
    assert '<html lang="en-GB">' in html
    assert 'href="#main"' in html and '<main id="main"' in html
    assert '<nav aria-label="Main">' in html and "<footer" in html
    assert '<script src="/static/js/htmx.min.js" defer></script>' in html
    assert client.get("/static/js/htmx.min.js").status_code == 200


def test_outbox_is_idempotent_and_local_transport_sends(app, db, settings):
    renderer = app.state.renderer
    ctx = {"link": "http://x/sign-in", "minutes": 15, "name": "Ada"}
    first = enqueue(db, renderer, key="k1", kind="sign_in", to="ada@example.org", template="sign_in", context=ctx)
    second = enqueue(db, renderer, key="k1", kind="sign_in", to="ada@example.org", template="sign_in", context=ctx)
    db.commit()
    assert first is not None and second is None
    stats = drain(app.state.session_factory, LocalTransport(), settings, renderers=EXTENSIONS.deferred_renderers)
    assert stats.sent == 1
    row = db.scalar(select(m.OutboxMessage))
    db.refresh(row)
    assert row.status == m.OutboxStatus.SENT and row.provider_message_id == f"local-{row.id}" and row.attempts == 1


def test_dispatcher_never_sends_to_suppressed_address(app, db, settings):
    db.add(m.Suppression(address="gone@example.org", reason="bounce"))
    enqueue(
        db,
        app.state.renderer,
        key="k2",
        kind="sign_in",
        to="Gone@Example.org",
        template="sign_in",
        context={"link": "x", "minutes": 15, "name": ""},
    )
    db.commit()
    stats = drain(app.state.session_factory, LocalTransport(), settings, renderers=EXTENSIONS.deferred_renderers)
    assert stats.suppressed == 1 and stats.sent == 0
    row = db.scalar(select(m.OutboxMessage))
    db.refresh(row)
    assert row.status == m.OutboxStatus.SUPPRESSED


def test_header_injection_is_refused(app, db):
    with pytest.raises(ValueError):
        enqueue(
            db,
            app.state.renderer,
            key="k3",
            kind="sign_in",
            to="a@example.org\r\nBcc: x@example.org",
            template="sign_in",
            context={"link": "x", "minutes": 15, "name": ""},
        )
    rendered = app.state.renderer.render("sign_in", {"link": "x", "minutes": 15, "name": "Eve\r\nBcc: x"})
    assert "\n" not in rendered.subject


def test_admin_sees_outbox_and_rendered_email(admin_client, app, db, count_queries):
    for i in range(3):
        enqueue(
            db,
            app.state.renderer,
            key=f"m{i}",
            kind="sign_in",
            to=f"p{i}@example.org",
            template="sign_in",
            context={"link": "http://x/<b>", "minutes": 15, "name": "<script>alert(1)</script>"},
        )
    db.commit()
    with count_queries() as q:
        page = admin_client.get("/admin/mail")
    assert page.status_code == 200 and "p2@example.org" in page.text
    assert q.count <= 2  # the session lookup and one list query
    message_id = db.scalar(select(m.OutboxMessage.id).where(m.OutboxMessage.recipient == "p0@example.org"))
    detail = admin_client.get(f"/admin/mail/{message_id}")
    assert "<script>alert(1)</script>" not in detail.text and "&lt;script&gt;" in detail.text
    raw = admin_client.get(f"/admin/mail/{message_id}/html")
    assert (
        "sandbox" in raw.headers["content-security-policy"]
        and "script-src" not in raw.headers["content-security-policy"]
    )
    assert "&lt;script&gt;" in raw.text
