"""HTTP: signed RSVP pages (scanner GET, tampered, other event, deadline), waitlist offers, public pages and
requests, the admin journey (create, publish, audience preview and send, edit, cancel, CSV, attendance), the API."""

from __future__ import annotations

import base64
import datetime as dt
import html
import re

from sqlalchemy import func, select

from crm import models as m
from crm.accounts.services import create_api_key
from crm.events.mail import rsvp_token
from crm.mailing.transports.base import OutgoingEmail
from crm.mailing.transports.sendgrid import build_payload
from tests import factories
from tests.conftest import post_form, sign_in_as
from tests.events import factories as f
from tests.mailing.sendgrid_schema import validate_payload

S = m.InvitationStatus


def real_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def setup_invited(app, db, *, capacity=None, **values):
    e = f.event(db, app, now=real_now(), capacity=capacity, **values)
    c = factories.contact(db, "Ada Example")
    inv = f.invite(db, e, c)
    db.commit()
    return e, c, inv, rsvp_token(app.state.signer, e.id, c.id)


def rsvp_rows(db) -> int:
    return db.scalar(select(func.count()).select_from(m.RsvpResponse))


def test_scanner_get_changes_nothing_and_post_answers(app, db, client):
    _e, _c, inv, token = setup_invited(app, db)
    page = client.get(f"/rsvp/{token}?answer=yes")
    assert page.status_code == 200 and 'method="post"' in page.text and 'value="yes" checked' in page.text
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"
    client.head(f"/rsvp/{token}?answer=no")
    db.expire_all()
    assert db.get(m.Invitation, inv.id).status == S.INVITED and rsvp_rows(db) == 0
    done = post_form(client, f"/rsvp/{token}", {"answer": "yes", "note": "Looking for a charity partner"})
    assert done.status_code == 200 and "You're coming" in html.unescape(done.text)
    db.expire_all()
    row = db.get(m.Invitation, inv.id)
    assert row.status == S.YES and row.note == "Looking for a charity partner" and row.responded_at is not None
    # Same answer again: nothing new recorded.
    post_form(client, f"/rsvp/{token}", {"answer": "yes", "note": "Looking for a charity partner"})
    assert rsvp_rows(db) == 1
    # Change of mind until the deadline.
    post_form(client, f"/rsvp/{token}", {"answer": "no", "note": "Looking for a charity partner"})
    db.expire_all()
    assert db.get(m.Invitation, inv.id).status == S.NO and rsvp_rows(db) == 2


def test_tampered_and_foreign_tokens_change_nothing(app, db, client):
    e, c, inv, token = setup_invited(app, db)
    other = f.event(db, app, now=real_now(), title="Another event")
    db.commit()
    tampered = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    for bad in (
        tampered,
        rsvp_token(app.state.signer, other.id, c.id),
        app.state.signer.sign("unsubscribe", {"e": e.id, "c": c.id}),
    ):
        page = client.get(f"/rsvp/{bad}")
        assert page.status_code == 400 and "Nothing was changed" in page.text
        answer = post_form(client, f"/rsvp/{bad}", {"answer": "yes"})
        assert answer.status_code == 400 and "Nothing was changed" in answer.text
    db.expire_all()
    assert db.get(m.Invitation, inv.id).status == S.INVITED and rsvp_rows(db) == 0


def test_after_deadline_nothing_changes(app, db, client):
    _e, _c, inv, token = setup_invited(app, db, rsvp_deadline=real_now() - dt.timedelta(hours=1))
    page = client.get(f"/rsvp/{token}")
    assert "deadline for answers has passed" in page.text and 'name="answer"' not in page.text
    answer = post_form(client, f"/rsvp/{token}", {"answer": "yes"})
    assert answer.status_code == 409 and "deadline" in answer.text
    db.expire_all()
    assert db.get(m.Invitation, inv.id).status == S.INVITED


def test_full_event_waitlist_position_and_offer_acceptance(app, db, client):
    e, _c, _inv, token = setup_invited(app, db, capacity=1)
    second = factories.contact(db, "Bo Example")
    inv2 = f.invite(db, e, second)
    db.commit()
    token2 = rsvp_token(app.state.signer, e.id, second.id)
    post_form(client, f"/rsvp/{token}", {"answer": "yes"})
    waiting = post_form(client, f"/rsvp/{token2}", {"answer": "yes"})
    assert "waitlist at position 1" in waiting.text
    post_form(client, f"/rsvp/{token}", {"answer": "no"})  # withdrawal → offer to Bo
    offer = db.scalar(select(m.OutboxMessage).where(m.OutboxMessage.kind == "event_offer"))
    assert offer is not None and offer.recipient == second.email and offer.attachments == []
    offer_token = re.search(r"/waitlist-offer/(\S+)", offer.text_body).group(1)
    page = client.get(f"/waitlist-offer/{offer_token}")
    assert page.status_code == 200 and "Accept the place" in page.text
    db.expire_all()
    assert db.get(m.Invitation, inv2.id).status == S.WAITLISTED  # GET changed nothing
    accepted = post_form(client, f"/waitlist-offer/{offer_token}")
    assert accepted.status_code == 200 and "The place is yours" in accepted.text
    db.expire_all()
    assert db.get(m.Invitation, inv2.id).status == S.YES


def test_ics_download_matches_current_state(app, db, client):
    e, _c, _inv, token = setup_invited(app, db)
    post_form(client, f"/rsvp/{token}", {"answer": "yes"})
    ics = client.get(f"/rsvp/{token}/invite.ics")
    assert ics.status_code == 200 and ics.headers["content-type"] == "text/calendar; method=REQUEST; charset=utf-8"
    text = ics.content.decode()
    assert "METHOD:REQUEST" in text and "PARTSTAT=ACCEPTED" in text.replace("\r\n ", "") and e.uid in text
    assert client.get("/rsvp/nonsense/invite.ics").status_code == 400


def test_public_pages_hide_drafts_and_show_cancelled(app, db, client):
    upcoming = f.event(db, app, now=real_now(), title="Open networking morning")
    draft = f.event(db, app, now=real_now(), title="Secret draft", publish=False)
    db.commit()
    listing = client.get("/events")
    assert "Open networking morning" in listing.text and "Secret draft" not in listing.text
    assert client.get(f"/events/{draft.slug}").status_code == 404
    page = client.get(f"/events/{upcoming.slug}")
    assert page.status_code == 200 and "Ada" not in page.text
    from crm.events import lifecycle

    lifecycle.cancel_event(db, f.mailer(app), None, upcoming, real_now())
    db.commit()
    assert "This event has been cancelled" in client.get(f"/events/{upcoming.slug}").text
    assert "Open networking morning" not in client.get("/events").text


def test_request_a_place_and_approval(app, db, admin_client):
    e = f.event(db, app, now=real_now(), allow_requests=True, capacity=5)
    db.commit()
    bad = post_form(admin_client, f"/events/{e.slug}/request", {"name": "", "email": "nope"})
    assert bad.status_code == 422 and "There is a problem" in bad.text
    ok = post_form(
        admin_client, f"/events/{e.slug}/request", {"name": "Cy Example", "email": "cy@example.org", "note": "Hi"}
    )
    assert ok.status_code == 200 and "Your request has been sent" in ok.text
    req = db.scalar(select(m.PlaceRequest))
    page = admin_client.get(f"/admin/events/{e.id}")
    assert "Requests for a place" in page.text and "cy@example.org" in page.text
    post_form(admin_client, f"/admin/events/{e.id}/requests/{req.id}/approve")
    db.expire_all()
    inv = db.scalar(select(m.Invitation).where(m.Invitation.event_id == e.id))
    assert inv.status == S.YES and inv.source == "request"
    invite = db.scalar(select(m.OutboxMessage).where(m.OutboxMessage.kind == "event_invitation"))
    assert invite.recipient == "cy@example.org" and "PARTSTAT=ACCEPTED" in invite.attachments[0]["content"].replace(
        "\r\n ", ""
    )


def test_admin_journey_create_invite_edit_cancel(app, db, admin_client):
    vcse = factories.organisation(db, "Mindful Futures Collective")
    for i in range(3):
        factories.contact(db, f"Invitee {i}", organisation=vcse)
    db.commit()
    start = (real_now() + dt.timedelta(days=20)).astimezone(dt.timezone(dt.timedelta(0)))
    bad = post_form(
        admin_client,
        "/admin/events/new",
        {"title": "Launch", "starts_at": "2030-06-01T10:00", "ends_at": "2030-06-01T09:00"},
    )
    assert bad.status_code == 422 and "The end must be after the start" in bad.text
    created = post_form(
        admin_client,
        "/admin/events/new",
        {
            "title": "Launch, with partners",
            "starts_at": f"{start:%Y-%m-%d}T10:00",
            "ends_at": f"{start:%Y-%m-%d}T12:00",
            "venue": "Hall 1",
            "capacity": "2",
            "reminders": "168, 24",
            "offer_hold_hours": "48",
            "offers_stop_hours": "24",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    event = db.scalar(select(m.Event).where(m.Event.title == "Launch, with partners"))
    assert (
        event.status == m.EventStatus.DRAFT and event.uid.startswith("evt-") and event.uid.endswith("@testserver.local")
    )
    # Invitations cannot be sent before publishing.
    refused = post_form(admin_client, f"/admin/events/{event.id}/audience", {"org_kind": "vcse"})
    assert refused.status_code == 409 and "Publish the event" in refused.text
    post_form(admin_client, f"/admin/events/{event.id}/publish")
    preview = admin_client.get(f"/admin/events/{event.id}/audience?org_kind=vcse")
    assert (
        "3 people will be invited." in preview.text and db.scalar(select(func.count()).select_from(m.Invitation)) == 0
    )
    assert "<summary>See who</summary>" in preview.text and preview.text.count("<td>Will be invited</td>") == 3
    zero = admin_client.get(f"/admin/events/{event.id}/audience?org_kind=funder")
    assert "Nobody matches these filters" in zero.text
    zero_send = post_form(admin_client, f"/admin/events/{event.id}/audience", {"org_kind": "funder"})
    assert zero_send.status_code == 409 and "Nobody was invited" in zero_send.text
    sent = post_form(admin_client, f"/admin/events/{event.id}/audience", {"org_kind": "vcse"})
    assert sent.status_code == 200 and "3 invitations queued" in sent.text
    again = admin_client.get(f"/admin/events/{event.id}/audience?org_kind=vcse")
    assert "0 people will be invited; 3 excluded: 3 already invited." in again.text
    # Answers table (htmx fragment) and CSV export.
    answers = admin_client.get(f"/admin/events/{event.id}/answers", headers={"HX-Request": "true"})
    assert "3</strong> no answer" in answers.text and "<html" not in answers.text
    invs = list(db.scalars(select(m.Invitation).where(m.Invitation.event_id == event.id).order_by(m.Invitation.id)))
    for inv in invs:
        token = rsvp_token(app.state.signer, event.id, inv.contact_id)
        post_form(admin_client, f"/rsvp/{token}", {"answer": "yes"})
    db.expire_all()
    assert [i.status for i in db.scalars(select(m.Invitation).order_by(m.Invitation.id))] == [
        S.YES,
        S.YES,
        S.WAITLISTED,
    ]
    csv = admin_client.get(f"/admin/events/{event.id}/attendees.csv")
    assert csv.status_code == 200 and csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv.text.count("\r\n") == 4 and "Mindful Futures Collective" in csv.text
    # Capacity below the yeses is refused with the numbers.
    form = {
        "title": "Launch, with partners",
        "starts_at": f"{start:%Y-%m-%d}T10:00",
        "ends_at": f"{start:%Y-%m-%d}T12:00",
        "venue": "Hall 1",
        "capacity": "1",
        "reminders": "168, 24",
        "offer_hold_hours": "48",
        "offers_stop_hours": "24",
    }
    low = post_form(admin_client, f"/admin/events/{event.id}/edit", form)
    assert low.status_code == 409 and "2 people have already said yes" in low.text
    # Moving the time sends an update (SEQUENCE 1) to everyone who has not declined.
    form.update(capacity="2", starts_at=f"{start:%Y-%m-%d}T11:00", ends_at=f"{start:%Y-%m-%d}T13:00")
    moved = post_form(admin_client, f"/admin/events/{event.id}/edit", form)
    assert moved.status_code == 200 and "3 people were sent an updated invitation" in moved.text
    db.expire_all()
    assert db.get(m.Event, event.id).sequence == 1
    # Cancelling: METHOD:CANCEL to all, public page says so.
    assert "This cannot be undone" in admin_client.get(f"/admin/events/{event.id}/cancel").text
    post_form(admin_client, f"/admin/events/{event.id}/cancel")
    db.expire_all()
    cancels = list(db.scalars(select(m.OutboxMessage).where(m.OutboxMessage.kind == "event_cancel")))
    assert len(cancels) == 3 and all(c.attachments[0]["method"] == "CANCEL" for c in cancels)
    assert all(c.idempotency_key.endswith(":2") for c in cancels)
    assert "This event has been cancelled" in admin_client.get(f"/events/{event.slug}").text


def test_attendance_after_the_event(app, db, admin_client):
    e = f.event(db, app, now=real_now(), days=-1)
    inv = f.invite(db, e, factories.contact(db, "Dee Example"))
    inv.status = S.YES
    db.commit()
    page = admin_client.get(f"/admin/events/{e.id}/attendance")
    assert "Dee Example" in page.text
    post_form(admin_client, f"/admin/events/{e.id}/attendance", {"attended": str(inv.id)})
    db.expire_all()
    assert db.get(m.Invitation, inv.id).attended is True


def test_admin_pages_need_admin(app, db, client, settings):
    e = f.event(db, app, now=real_now())
    db.commit()
    assert client.get(f"/admin/events/{e.id}", follow_redirects=False).status_code == 303
    sign_in_as(client, db, settings, "viewer@example.org", m.Role.VIEWER)
    assert client.get(f"/admin/events/{e.id}").status_code == 403


def test_api_auth_and_conventions(app, db, client, settings):
    e = f.event(db, app, now=real_now(), title="Published event")
    draft = f.event(db, app, now=real_now(), title="Draft event", publish=False)
    f.invite(db, e, factories.contact(db, "Eve Example"))
    _, admin_key = create_api_key(db, "integration", m.Role.ADMIN)
    _, viewer_key = create_api_key(db, "reader", m.Role.VIEWER)
    db.commit()
    listing = client.get("/api/v1/events").json()
    assert [i["title"] for i in listing["items"]] == ["Published event"] and "next_cursor" in listing
    assert client.get(f"/api/v1/events/{draft.id}").status_code == 404
    assert client.get(f"/api/v1/events/{e.id}").json()["counts"] is None
    anon = client.get(f"/api/v1/events/{e.id}/invitations")
    assert anon.status_code == 401 and anon.headers["content-type"].startswith("application/problem+json")
    viewer = {"Authorization": f"Bearer {viewer_key}"}
    admin = {"Authorization": f"Bearer {admin_key}"}
    assert client.get(f"/api/v1/events/{e.id}/invitations", headers=viewer).status_code == 403
    invs = client.get(f"/api/v1/events/{e.id}/invitations", headers=admin).json()
    assert invs["items"][0]["name"] == "Eve Example" and invs["counts"]["invited"] == 1
    body = {"title": "From the API", "starts_at": "2030-01-10T10:00:00+00:00", "ends_at": "2030-01-10T09:00:00+00:00"}
    assert client.post("/api/v1/events", json=body).status_code == 401
    assert client.post("/api/v1/events", json=body, headers=viewer).status_code == 403
    bad = client.post("/api/v1/events", json=body, headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "ends_at"
    body["ends_at"] = "2030-01-10T12:00:00+00:00"
    created = client.post("/api/v1/events", json={**body, "publish": True, "capacity": 10}, headers=admin)
    assert created.status_code == 201 and created.json()["status"] == "published" and created.json()["sequence"] == 0
    event_id = created.json()["id"]
    moved = client.patch(f"/api/v1/events/{event_id}", json={"starts_at": "2030-01-10T11:00:00+00:00"}, headers=admin)
    assert moved.status_code == 200 and moved.json()["sequence"] == 1
    wrong = client.patch(f"/api/v1/events/{event_id}", json={"capacity": "many"}, headers=admin)
    assert wrong.status_code == 422
    cancelled = client.patch(f"/api/v1/events/{event_id}", json={"action": "cancel"}, headers=admin)
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["sequence"] == 2
    assert "/api/v1/events" in client.get("/schema/openapi.json").json()["paths"]


def test_invitation_sendgrid_payload_has_calendar_part_and_identical_ics(app, db, settings):
    from crm.events import audience
    from crm.events.audience import AudienceFilter

    e = f.event(db, app, now=real_now())
    factories.contact(db, "Fay Example", organisation=factories.organisation(db))
    audience.send(db, f.mailer(app), None, e, AudienceFilter(org_kinds=("vcse",)), real_now())
    row = db.scalar(select(m.OutboxMessage).where(m.OutboxMessage.kind == "event_invitation"))
    email = OutgoingEmail(
        outbox_id=row.id,
        kind=row.kind,
        to=row.recipient,
        to_name=row.recipient_name,
        subject=row.subject,
        text=row.text_body or "",
        html=row.html_body or "",
        headers=dict(row.headers),
        attachments=list(row.attachments),
        bulk=row.bulk,
    )
    payload = build_payload(email, settings)
    validate_payload(payload)
    types = [c["type"] for c in payload["content"]]
    assert types == ["text/plain", "text/html", "text/calendar; method=REQUEST"]
    (attachment,) = payload["attachments"]
    assert attachment["type"] == "application/ics" and attachment["filename"] == "invite.ics"
    assert base64.b64decode(attachment["content"]).decode("utf-8") == payload["content"][2]["value"]
    assert payload["personalizations"][0]["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Yes" in row.html_body and "/rsvp/" in row.text_body


def test_all_day_event_form_round_trip_and_ics_dates(app, db, admin_client):
    day = (real_now() + dt.timedelta(days=200)).date()
    form = {
        "title": "All-day summit",
        "all_day": "on",
        "starts_at": day.isoformat(),
        "ends_at": day.isoformat(),
        "reminders": "24",
        "offer_hold_hours": "48",
        "offers_stop_hours": "24",
    }
    post_form(admin_client, "/admin/events/new", form)
    event = db.scalar(select(m.Event).where(m.Event.title == "All-day summit"))
    assert event.all_day and event.ends_at - event.starts_at in (
        dt.timedelta(hours=23),
        dt.timedelta(hours=24),
        dt.timedelta(hours=25),
    )
    edit = admin_client.get(f"/admin/events/{event.id}/edit")
    # The same date-and-time fields as funding calls; an all-day event shows its days at midnight.
    assert f'type="datetime-local" value="{day.isoformat()}T00:00"' in edit.text
    assert 'id="f-rsvp_deadline" name="rsvp_deadline" type="datetime-local"' in edit.text
    post_form(admin_client, f"/admin/events/{event.id}/publish")
    # Saving the unchanged form does not bump the SEQUENCE.
    post_form(admin_client, f"/admin/events/{event.id}/edit", form)
    db.expire_all()
    assert db.get(m.Event, event.id).sequence == 0
    from crm.events.mail import itip_for

    text = itip_for(f.mailer(app), db.get(m.Event, event.id), "Gus", "gus@example.org", method="REQUEST").text
    assert f"DTSTART;VALUE=DATE:{day:%Y%m%d}" in text
    assert f"DTEND;VALUE=DATE:{day + dt.timedelta(days=1):%Y%m%d}" in text
