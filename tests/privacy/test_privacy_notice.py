"""The public privacy notice: reachable from every page's footer, says what is held, for how long, and whom to ask."""

from __future__ import annotations

from email.utils import parseaddr


def test_privacy_notice_is_public_and_names_the_contact_and_retention(client, settings):
    response = client.get("/privacy")
    assert response.status_code == 200
    text = response.text
    assert "Your data and privacy" in text
    address = parseaddr(settings.mail_reply_to)[1] or parseaddr(settings.mail_from)[1]
    assert f'href="mailto:{address}"' in text
    assert "after 30 days" in text
    assert f"after {settings.retention_contact_years} year" in text
    assert "unsubscribe" in text


def test_every_public_page_links_to_the_privacy_notice(client):
    for url in ("/", "/subscribe", "/organisations"):
        assert 'href="/privacy"' in client.get(url).text
