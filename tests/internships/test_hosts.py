"""Hosts post their own placements (issue 20 item 8): the moderated public form, the fellow's approval, the private
signed manage link (edit, close, extend, only its own registrations) and every way a link can fail."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

from sqlalchemy import func, select

from crm import models as m
from crm.accounts.services import ensure_user
from crm.internships import hosting
from crm.internships.services import london_today
from crm.mailing.transports.base import OutgoingEmail
from crm.mailing.transports.sendgrid import build_payload
from tests import factories
from tests.conftest import post_form
from tests.internships.helpers import make_internship, now, sign_in
from tests.mailing.sendgrid_schema import validate_payload

S = m.InternshipStatus


def offer(**overrides: Any) -> dict[str, Any]:
    closing = (london_today(now()) + dt.timedelta(days=30)).isoformat()
    data = {
        "organisation_name": "Riverside Carers Network",
        "organisation_website": "riverside.example.org",
        "title": "Evaluation assistant with a carers' network",
        "direction": "researcher-to-vcse",
        "description": "Help us understand what carers need from our drop-in.",
        "mode": "hybrid",
        "hours_per_week": "12",
        "duration": "10 weeks",
        "paid": "1",
        "stipend_amount": "200",
        "stipend_period": "week",
        "closing_date": closing,
        "apply_url": "https://riverside.example.org/apply",
        "host_contact_name": "Rowan Host",
        "host_contact_email": "Rowan.Host@Riverside.example.org",
    }
    data.update(overrides)
    return data


def outbox(db: Any, kind: str) -> list[m.OutboxMessage]:
    return list(db.scalars(select(m.OutboxMessage).where(m.OutboxMessage.kind == kind).order_by(m.OutboxMessage.id)))


def assert_valid_payload(message: m.OutboxMessage, settings: Any) -> None:
    email = OutgoingEmail(
        message.id, message.kind, message.recipient, message.recipient_name, message.subject,
        message.text_body or "", message.html_body or "", headers=dict(message.headers),
    )  # fmt: skip
    validate_payload(build_payload(email, settings))


def manage_link(message: m.OutboxMessage) -> str:
    match = re.search(r"https?://\S+/internships/manage/\d+\?token=\S+", message.text_body or "")
    assert match, message.text_body
    parts = urlsplit(match.group(0))
    return f"{parts.path}?{parts.query}"


def posted(client: Any, db: Any, **overrides: Any) -> m.Internship:
    response = post_form(client, "/internships/offer", offer(**overrides))
    assert response.status_code == 200, response.text
    assert "Thank you" in response.text
    internship = db.scalar(select(m.Internship).order_by(m.Internship.id.desc()).limit(1))
    assert internship is not None
    return internship


def approved(client: Any, db: Any, settings: Any, **overrides: Any) -> tuple[m.Internship, str]:
    """A host's listing approved by the fellow; the manage link from the host's email (path and query)."""
    internship = posted(client, db, **overrides)
    sign_in(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    assert post_form(client, f"/admin/internships/{internship.id}/approve").status_code in (200, 303)
    client.cookies.delete("crm_session")
    db.expire_all()
    message = outbox(db, "internship_host_link")[-1]
    return db.get(m.Internship, internship.id), manage_link(message)


def test_offer_page_is_a_form(client, db):
    page = client.get("/internships/offer")
    assert page.status_code == 200
    for label in (
        "Organisation name",
        "Title of the placement",
        "Who is offering the placement?",
        "Your email address",
    ):
        assert label in page.text
    assert 'name="rt_leave_blank"' in page.text  # the honeypot


def test_a_posted_placement_waits_for_the_fellow_and_is_not_public(client, db, settings):
    ensure_user(db, "fellow@example.org", m.Role.ADMIN, name="Fellow")
    db.commit()
    internship = posted(client, db)
    assert internship.status == S.SUBMITTED and internship.host_posted and internship.manage_key
    assert internship.host_contact_email == "rowan.host@riverside.example.org"
    assert internship.stipend_pence == 20000 and internship.hours_per_week == 12
    org = db.get(m.Organisation, internship.host_organisation_id)
    assert org.name == "Riverside Carers Network" and org.kind == m.OrgKind.VCSE
    assert org.review_status == m.ReviewStatus.SUBMITTED  # a new organisation waits in the directory's review too
    assert org.website == "https://riverside.example.org"
    assert client.get(f"/internships/{internship.slug}").status_code == 404
    assert internship.title not in client.get("/internships").text
    [fellow_email] = outbox(db, "internship_submitted")
    assert fellow_email.recipient == "fellow@example.org"
    entry = db.scalar(select(m.AuditEntry).where(m.AuditEntry.entity == "internship", m.AuditEntry.action == "create"))
    assert entry.actor == hosting.HOST.email


def test_an_organisation_already_in_the_directory_is_used(client, db, settings):
    org = factories.organisation(db, "Leeds Institute of Health Research", m.OrgKind.ACADEMIC)
    db.commit()
    before = db.scalar(select(func.count()).select_from(m.Organisation))
    internship = posted(
        client, db, organisation_name="the leeds institute of health research", direction="vcse-to-academic"
    )
    assert internship.host_organisation_id == org.id
    assert db.scalar(select(func.count()).select_from(m.Organisation)) == before
    sign_in(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    page = client.get(f"/admin/internships/{internship.id}")
    assert "already in the directory: check that they may post for it" in page.text


def test_the_fellow_sees_that_a_new_organisation_also_waits_for_review(client, db, settings):
    internship = posted(client, db)
    sign_in(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    page = client.get(f"/admin/internships/{internship.id}")
    assert "Posted by the host through the public form" in page.text and "directory's review queue" in page.text
    assert "Riverside Carers Network" in client.get("/admin/review").text


def test_bad_input_re_renders_with_messages_and_stores_nothing(client, db):
    response = post_form(
        client,
        "/internships/offer",
        offer(
            organisation_name="",
            title="",
            direction="",
            closing_date="2020-01-01",
            stipend_amount="",
            host_contact_name="",
            host_contact_email="not an address",
            apply_url="ftp://x",
        ),
    )
    assert response.status_code == 422
    text = response.text
    assert "There is a problem" in text
    for message in (
        "Enter the name of your organisation.",
        "Enter a title.",
        "Say who is offering the placement.",
        "The closing date is in the past.",
        "Enter the stipend for a paid placement, in pounds.",
        "Enter your name.",
        "web address starting with http",
    ):
        assert message in text, message
    assert 'id="f-organisation_name-error"' in text and 'aria-invalid="true"' in text
    assert 'value="not an address"' in text  # what the person typed stays
    assert db.scalar(select(func.count()).select_from(m.Internship)) == 0


def test_robots_and_floods_are_refused(client, db):
    robot = post_form(client, "/internships/offer", offer(nickname="buy now"))
    assert robot.status_code == 200 and "Thank you" in robot.text
    assert db.scalar(select(func.count()).select_from(m.Internship)) == 0
    statuses = [post_form(client, "/internships/offer", offer(title=f"Placement {i}")).status_code for i in range(6)]
    assert statuses == [200] * 5 + [429]
    assert db.scalar(select(func.count()).select_from(m.Internship)) == 5


def test_approval_sends_the_host_a_private_manage_link(client, db, settings):
    internship, link = approved(client, db, settings)
    assert internship.status == S.PUBLISHED and internship.manage_link_sent_at is not None
    [message] = outbox(db, "internship_host_link")
    assert message.recipient == "rowan.host@riverside.example.org"
    assert "is live" in message.subject and "/internships/manage/" in (message.html_body or "")
    assert_valid_payload(message, settings)
    page = client.get(link)
    assert page.status_code == 200
    assert "Manage “Evaluation assistant" in page.text and "Live" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert client.get(f"/internships/{internship.slug}").status_code == 200


def test_returning_a_listing_emails_the_note_and_the_host_edits_and_resends(client, db, settings):
    internship = posted(client, db)
    sign_in(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    post_form(client, f"/admin/internships/{internship.id}/reject", {"note": "Please add the hours."})
    client.cookies.delete("crm_session")
    [message] = outbox(db, "internship_host_link")
    assert "needs changes" in message.subject and "Please add the hours." in message.text_body
    link = manage_link(message)
    page = client.get(link)
    assert "Returned for changes" in page.text and "Please add the hours." in page.text
    internship_id, token = internship.id, link.split("token=")[1]
    edit = client.get(f"/internships/manage/{internship_id}/edit?token={token}")
    assert edit.status_code == 200 and 'value="Evaluation assistant' in edit.text
    saved = post_form(
        client,
        f"/internships/manage/{internship_id}/edit",
        offer(token=token, hours_per_week="14"),
        follow_redirects=False,
    )
    assert saved.status_code == 303
    db.expire_all()
    changed = db.get(m.Internship, internship_id)
    assert changed.status == S.SUBMITTED and changed.hours_per_week == 14
    [told] = outbox(db, "internship_submitted")  # the fellow is told (they had no account when it was first posted)
    assert told.recipient == "fellow@example.org"
    entry = db.scalar(
        select(m.AuditEntry).where(m.AuditEntry.action == "update", m.AuditEntry.entity_id == internship_id)
    )
    assert entry.actor == hosting.HOST.email and entry.changes["hours_per_week"] == [12, 14]


def test_a_host_edit_to_a_live_listing_goes_back_for_approval_and_bad_input_re_renders(client, db, settings):
    internship, link = approved(client, db, settings)
    token = link.split("token=")[1]
    bad = post_form(client, f"/internships/manage/{internship.id}/edit", offer(token=token, title="", mode="boat"))
    assert bad.status_code == 422
    assert "Enter a title." in bad.text and "Choose on-site, hybrid or remote." in bad.text
    same = post_form(client, f"/internships/manage/{internship.id}/edit", offer(token=token), follow_redirects=False)
    assert same.status_code == 303 and "notice=unchanged" in same.headers["location"]
    db.expire_all()
    assert db.get(m.Internship, internship.id).status == S.PUBLISHED  # nothing changed: still live
    changed = post_form(
        client,
        f"/internships/manage/{internship.id}/edit",
        offer(token=token, duration="12 weeks"),
        follow_redirects=True,
    )
    assert "The fellow will check your changes" in changed.text
    db.expire_all()
    assert db.get(m.Internship, internship.id).status == S.SUBMITTED
    assert client.get(f"/internships/{internship.slug}").status_code == 404


def test_extend_and_close(client, db, settings):
    internship, link = approved(client, db, settings)
    token = link.split("token=")[1]
    url = f"/internships/manage/{internship.id}"
    earlier = post_form(client, f"{url}/extend", {"token": token, "closing_date": internship.closing_date.isoformat()})
    assert earlier.status_code == 422 and "Choose a date after the current closing date" in earlier.text
    garbled = post_form(client, f"{url}/extend", {"token": token, "closing_date": "31/02/2027"})
    assert garbled.status_code == 422 and "Enter the new closing date as a date" in garbled.text
    later = internship.closing_date + dt.timedelta(days=14)
    done = post_form(
        client, f"{url}/extend", {"token": token, "closing_date": later.isoformat()}, follow_redirects=True
    )
    assert done.status_code == 200 and "The closing date is extended." in done.text
    db.expire_all()
    extended = db.get(m.Internship, internship.id)
    assert extended.closing_date == later and extended.status == S.PUBLISHED  # no new review for a date
    closed = post_form(client, f"{url}/close", {"token": token, "action": "filled"}, follow_redirects=True)
    assert "marked as filled" in closed.text
    db.expire_all()
    assert db.get(m.Internship, internship.id).status == S.FILLED
    # A listing changed after closing: a clear refusal, nothing changed.
    refused = post_form(client, f"{url}/edit", offer(token=token, title="Sneaky"))
    assert refused.status_code == 409 and "This listing is closed" in refused.text
    refused = post_form(
        client, f"{url}/extend", {"token": token, "closing_date": (later + dt.timedelta(days=3)).isoformat()}
    )
    assert refused.status_code == 409 and "This listing is closed" in refused.text
    assert client.get(f"{url}/edit?token={token}").status_code == 409
    db.expire_all()
    assert db.get(m.Internship, internship.id).title != "Sneaky"


def test_the_link_shows_only_its_own_registrations(client, db, settings):
    internship, link = approved(client, db, settings)
    other = make_internship(db, factories.organisation(db, "Elsewhere"), title="Another placement")
    db.add_all(
        [
            m.InternshipInterest(internship_id=internship.id, name="Mine Person", email="mine@example.org"),
            m.InternshipInterest(internship_id=other.id, name="Other Person", email="other@example.org"),
        ]
    )
    db.commit()
    page = client.get(link)
    assert "mine@example.org" in page.text and "Registrations of interest (1)" in page.text
    assert "other@example.org" not in page.text and "Other Person" not in page.text


def test_bad_links_are_refused_never_500(client, db, settings):
    internship, link = approved(client, db, settings)
    path, token = link.split("?token=")
    tampered = client.get(f"{path}?token={token[:-2]}xx")
    assert tampered.status_code == 400 and "This link does not work" in tampered.text
    assert "Email me a new link" not in tampered.text
    assert client.get(path).status_code == 400  # no token at all
    other = make_internship(db, factories.organisation(db), title="Not yours")
    db.commit()
    assert client.get(f"/internships/manage/{other.id}?token={token}").status_code == 400  # another listing's id
    post = post_form(client, f"/internships/manage/{other.id}/close", {"token": token, "action": "close"})
    assert post.status_code == 400
    db.expire_all()
    assert db.get(m.Internship, other.id).status == S.PUBLISHED
    # The fellow sends a new link: the old one stops working.
    sign_in(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    sent = post_form(client, f"/admin/internships/{internship.id}/manage-link", follow_redirects=True)
    assert "A new manage link is on its way" in sent.text
    client.cookies.delete("crm_session")
    replaced = client.get(link)
    assert replaced.status_code == 400 and "replaced by a newer one" in replaced.text
    newest = manage_link(outbox(db, "internship_host_link")[-1])
    assert client.get(newest).status_code == 200
    # A deleted listing: the 404 page.
    sign_in(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    post_form(client, f"/admin/internships/{internship.id}/delete")
    client.cookies.delete("crm_session")
    assert client.get(newest).status_code == 404


def test_an_expired_link_offers_a_new_one_sent_to_the_host_address_only(client, db, settings, app):
    internship, _ = approved(client, db, settings)
    long_ago = dt.datetime.now(dt.UTC).timestamp() - 181 * 86400
    with mock.patch("itsdangerous.timed.time.time", return_value=long_ago):
        token = app.state.signer.sign(hosting.MANAGE_PURPOSE, {"i": internship.id, "k": internship.manage_key})
    expired = client.get(f"/internships/manage/{internship.id}?token={token}")
    assert expired.status_code == 400 and "This link has expired." in expired.text
    assert "Email me a new link" in expired.text
    before = len(outbox(db, "internship_host_link"))
    sent = post_form(client, f"/internships/manage/{internship.id}/new-link")
    assert sent.status_code == 200 and "Check your email" in sent.text
    messages = outbox(db, "internship_host_link")
    assert len(messages) == before + 1 and messages[-1].recipient == "rowan.host@riverside.example.org"
    assert client.get(manage_link(messages[-1])).status_code == 200
    statuses = [post_form(client, f"/internships/manage/{internship.id}/new-link").status_code for _ in range(3)]
    assert statuses[-1] == 429  # three links an hour per listing
    # Asking for a listing that does not exist looks the same and sends nothing.
    assert post_form(client, "/internships/manage/999999/new-link").status_code in (200, 429)
    assert len(outbox(db, "internship_host_link")) == before + 3


def test_the_interest_email_to_a_host_without_an_account_links_the_manage_page(client, db, settings):
    internship, _ = approved(client, db, settings)
    response = post_form(
        client,
        f"/internships/{internship.slug}/interest",
        {"name": "Nia Example", "email": "nia@example.org", "note": "Hello", "consent": "1"},
    )
    assert response.status_code == 200
    [message] = outbox(db, "internship_interest")
    assert "(sign-in needed)" not in message.text_body and "no sign-in needed" in message.text_body
    page = client.get(manage_link(message))
    assert page.status_code == 200 and "nia@example.org" in page.text
    assert_valid_payload(message, settings)


def test_the_closing_reminder_to_a_host_without_an_account_offers_the_manage_link(client, db, settings):
    from crm.internships.jobs import remind_hosts
    from crm.runtime import Runtime

    internship, _ = approved(
        client, db, settings, closing_date=(london_today(now()) + dt.timedelta(days=6)).isoformat()
    )
    ctx = Runtime(settings)
    try:
        assert remind_hosts(ctx, now=now()) == 1
    finally:
        ctx.engine.dispose()
    [message] = outbox(db, "internship_reminder")
    assert "Need more time?" in message.text_body
    page = client.get(manage_link(message))
    assert page.status_code == 200 and "Extend the closing date" in page.text
    assert internship.host_posted
