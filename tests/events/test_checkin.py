"""Check-in on the day (issue 20.6): find a person, mark them here (idempotent), add a walk-in; it feeds the
attendance record; bad input gets a message, never a 500."""

from __future__ import annotations

import datetime as dt
import html

from sqlalchemy import func, select

from crm import models as m
from tests import factories
from tests.conftest import post_form
from tests.events import factories as f

S = m.InvitationStatus


def _today(app, db, *, hours_from_now: float = 1.0):
    start = dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours_from_now)
    e = f.event(db, app, now=start - dt.timedelta(days=30), days=30)
    people = {}
    for name, status in (("Ada Lovelace", S.YES), ("Grace Hopper", S.YES), ("Mary Somerville", S.NO)):
        c = factories.contact(db, name, email=f"{name.split()[0].lower()}@example.org")
        inv = f.invite(db, e, c)
        inv.status = status
        people[name] = inv
    db.commit()
    return e, people


def test_the_fellow_finds_and_marks_people_at_the_door(app, db, admin_client):
    e, people = _today(app, db)
    page = html.unescape(admin_client.get(f"/admin/events/{e.id}/check-in").text)
    assert "0 here · 2 said yes" in page and "Ada Lovelace" in page and "Mary Somerville" not in page
    found = admin_client.get(f"/admin/events/{e.id}/check-in?q=grace", headers={"HX-Request": "true"})
    assert "Grace Hopper" in found.text and "Ada Lovelace" not in found.text and "<html" not in found.text
    ada = people["Ada Lovelace"]
    for _ in range(2):  # a double tap on a slow connection changes nothing the second time
        done = post_form(admin_client, f"/admin/events/{e.id}/check-in/{ada.id}", {"here": "1"}, follow_redirects=False)
        assert done.status_code == 303
    db.expire_all()
    assert db.get(m.Invitation, ada.id).attended is True
    audits = db.scalar(select(func.count()).select_from(m.AuditEntry).where(m.AuditEntry.action == "checked in"))
    assert audits == 1
    after = html.unescape(admin_client.get(f"/admin/events/{e.id}/check-in").text)
    assert "1 here · 2 said yes" in after and "Ada Lovelace is marked here." not in after
    stranger = post_form(admin_client, f"/admin/events/{e.id}/check-in/999999", {"here": "1"})
    assert stranger.status_code == 409 and "not on the list" in stranger.text
    undo = post_form(admin_client, f"/admin/events/{e.id}/check-in/{ada.id}", {"here": "0"})
    assert "Ada Lovelace is no longer marked here." in html.unescape(undo.text)
    db.expire_all()
    assert db.get(m.Invitation, ada.id).attended is False


def test_a_walk_in_is_added_and_marked_here(app, db, admin_client):
    e, _ = _today(app, db)
    refused = post_form(admin_client, f"/admin/events/{e.id}/check-in/walk-in", {"name": " ", "email": "not-an-email"})
    assert refused.status_code == 422
    assert "Enter the person's name." in html.unescape(refused.text) and "like name@example.org" in refused.text
    done = post_form(
        admin_client,
        f"/admin/events/{e.id}/check-in/walk-in",
        {"name": "Ada  Yonath", "email": "Ada.Yonath@Example.org", "organisation": "Calm Waters"},
    )
    assert done.status_code == 200 and "Ada Yonath is added as a walk-in and marked here." in html.unescape(done.text)
    contact = db.scalar(select(m.Contact).where(m.Contact.email == "ada.yonath@example.org"))
    invitation = db.scalar(select(m.Invitation).where(m.Invitation.contact_id == contact.id))
    assert invitation.status == S.YES and invitation.attended and invitation.source == "walk-in"
    # The same person again reuses the contact and the invitation.
    post_form(
        admin_client,
        f"/admin/events/{e.id}/check-in/walk-in",
        {"name": "Ada Yonath", "email": "ada.yonath@example.org"},
    )
    assert (
        db.scalar(select(func.count()).select_from(m.Contact).where(m.Contact.email == "ada.yonath@example.org")) == 1
    )
    assert db.scalar(select(func.count()).select_from(m.Invitation).where(m.Invitation.contact_id == contact.id)) == 1


def test_check_in_opens_three_hours_before_the_start(app, db, admin_client):
    e, people = _today(app, db, hours_from_now=5)
    page = html.unescape(admin_client.get(f"/admin/events/{e.id}/check-in").text)
    assert "Check-in opens three hours before the event starts." in page
    refused = post_form(admin_client, f"/admin/events/{e.id}/check-in/{people['Ada Lovelace'].id}", {"here": "1"})
    assert refused.status_code == 409
    other = post_form(admin_client, f"/admin/events/{e.id}/check-in/999999", {"here": "1"})
    assert other.status_code == 409
    db.expire_all()
    assert db.get(m.Invitation, people["Ada Lovelace"].id).attended is None
