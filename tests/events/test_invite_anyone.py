"""Invite anyone (issue 20.4): by email address on the audience page (a new address becomes a private contact),
and through the API (contact ids, a list, addresses) with the same rules, idempotently."""

from __future__ import annotations

import datetime as dt
import html

from sqlalchemy import func, select

from crm import models as m
from crm.accounts.services import create_api_key
from crm.events import by_address
from tests import factories
from tests.conftest import post_form
from tests.events import factories as f


def _published(app, db):
    e = f.event(db, app, now=dt.datetime.now(dt.UTC))
    db.commit()
    return e


def test_addresses_are_parsed_as_people_paste_them():
    assert by_address.parse("Ada Lovelace <ada@example.org>, grace@example.org\n\n  mary@example.org ; x") == [
        ("Ada Lovelace", "ada@example.org"),
        ("", "grace@example.org"),
        ("", "mary@example.org"),
        ("", "x"),
    ]


def test_the_fellow_invites_by_email_address(app, db, admin_client):
    e = _published(app, db)
    known = factories.contact(db, "Grace Hopper", email="grace@example.org")
    db.commit()
    bad = post_form(admin_client, f"/admin/events/{e.id}/audience/addresses", {"addresses": "ada@example.org, nope"})
    assert bad.status_code == 422 and "“nope” is not an email address" in html.unescape(bad.text)
    assert db.scalar(select(m.Contact.id).where(m.Contact.email == "ada@example.org")) is None  # nothing half done
    found = post_form(
        admin_client,
        f"/admin/events/{e.id}/audience/addresses",
        {"addresses": "Ada Lovelace <Ada@Example.org>\ngrace@example.org"},
        follow_redirects=False,
    )
    assert found.status_code == 303
    preview = html.unescape(admin_client.get(found.headers["location"]).text)
    assert "2 people will be invited." in preview and "Ada Lovelace" in preview and "Grace Hopper" in preview
    ada = db.scalar(select(m.Contact).where(m.Contact.email == "ada@example.org"))
    assert ada.name == "Ada Lovelace"
    contacts = [p.split("=")[1] for p in found.headers["location"].split("?", 1)[1].split("&")]
    sent = post_form(admin_client, f"/admin/events/{e.id}/audience", {"contact": contacts})
    assert sent.status_code == 200 and "2 invitations queued" in sent.text
    invited = set(db.scalars(select(m.Invitation.contact_id).where(m.Invitation.event_id == e.id)))
    assert invited == {ada.id, known.id}


def test_the_api_invites_contacts_lists_and_addresses_idempotently(app, db, client):
    e = _published(app, db)
    a, b = factories.contact(db, "Ada Lovelace"), factories.contact(db, "Grace Hopper")
    _, key = create_api_key(db, "integration", m.Role.ADMIN)
    _, viewer_key = create_api_key(db, "reader", m.Role.VIEWER)
    db.add(m.Suppression(address="gone@example.org", reason="bounce"))
    db.commit()
    admin = {"Authorization": f"Bearer {key}"}
    body = {"contact_ids": [a.id, b.id], "emails": ["New Person <new@example.org>", "gone@example.org"]}
    url = f"/api/v1/events/{e.id}/invitations"
    assert client.post(url, json=body, headers={"Authorization": f"Bearer {viewer_key}"}).status_code == 403
    first = client.post(url, json=body, headers=admin)
    assert first.status_code == 200, first.text
    assert first.json() == {"invited": 3, "matched": 4, "excluded": {"bounced": 1}, "queued_later": 0}
    again = client.post(url, json=body, headers=admin).json()
    assert again["invited"] == 0 and again["excluded"]["already-invited"] == 3
    assert db.scalar(select(func.count()).select_from(m.Contact).where(m.Contact.email == "new@example.org")) == 1
    assert db.scalar(select(func.count()).select_from(m.Invitation).where(m.Invitation.event_id == e.id)) == 3
    bad = client.post(url, json={"contact_ids": [999999], "emails": ["x"]}, headers=admin)
    assert bad.status_code == 422 and {"contact_ids", "emails"} <= {e["field"] for e in bad.json()["errors"]}
    empty = client.post(url, json={}, headers=admin)
    assert empty.status_code == 422
    unknown_field = client.post(url, json={"everyone": True}, headers=admin)
    assert unknown_field.status_code == 422 and "everyone" in unknown_field.text  # unknown fields are refused


def test_an_unreadable_online_link_is_a_field_error_not_a_500(app, db, admin_client, client):
    e = _published(app, db)
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=40)
    form = {
        "title": "Bracket test",
        "starts_at": f"{start:%Y-%m-%d}T10:00",
        "ends_at": f"{start:%Y-%m-%d}T12:00",
        "online_url": "http://[bad",
        "reminders": "24",
        "offer_hold_hours": "48",
        "offers_stop_hours": "24",
    }
    page = post_form(admin_client, "/admin/events/new", form)
    assert page.status_code == 422 and "online link" in page.text.lower()
    _, key = create_api_key(db, "integration", m.Role.ADMIN)
    db.commit()
    api = client.patch(
        f"/api/v1/events/{e.id}", json={"online_url": "http://[bad"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert api.status_code == 422 and "online_url" in api.text
