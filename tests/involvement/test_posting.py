"""Posting involvement opportunities without an account (issue 18): the moderated public form, the fellow's
approval and rejection, the poster's private manage link (their opportunity and ITS expressions of interest only,
statuses with the decision emailed once, closing it) and every way a link can fail."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

from sqlalchemy import func, select

from crm import models as m
from crm.accounts.services import ensure_user
from crm.involvement import posting
from crm.involvement.rules import london_today
from tests.conftest import post_form, sign_in_as

S = m.OpportunityStatus


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def offer(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "organisation_name": "Northern Mental Health Research Unit",
        "organisation_kind": "academic",
        "title": "Lived experience advisory group for a crisis care study",
        "kind": "advisory-group",
        "summary": "Help shape a three-year study of crisis care.",
        "lived_experience_sought": "Experience of crisis services in the last five years, as a patient or a carer.",
        "what_you_will_do": "Four online meetings a year; read short papers beforehand.",
        "commitment": "ongoing",
        "time_commitment": "Two hours, four times a year",
        "region_id": "",
        "online": "1",
        "paid": "1",
        "payment_amount": "£25",
        "payment_basis": "meeting",
        "expenses_covered": "1",
        "accessibility_support": "Papers in easy read on request.",
        "closing_date": (london_today(now()) + dt.timedelta(days=30)).isoformat(),
        "contact_name": "Dr Sam Poster",
        "contact_email": "Sam.Poster@Uni.example.ac.uk",
    }
    data.update(overrides)
    return data


def outbox(db: Any, kind: str) -> list[m.OutboxMessage]:
    db.expire_all()
    return list(db.scalars(select(m.OutboxMessage).where(m.OutboxMessage.kind == kind).order_by(m.OutboxMessage.id)))


def latest(db: Any) -> m.InvolvementOpportunity:
    db.expire_all()
    opp = db.scalar(select(m.InvolvementOpportunity).order_by(m.InvolvementOpportunity.id.desc()).limit(1))
    assert opp is not None
    return opp


def posted(client: Any, db: Any, **overrides: Any) -> m.InvolvementOpportunity:
    response = post_form(client, "/involvement/offer", offer(**overrides))
    assert response.status_code == 200, response.text
    assert "Thank you" in response.text
    return latest(db)


def manage_link(message: m.OutboxMessage) -> str:
    match = re.search(r"https?://\S+/involvement/manage\?token=\S+", message.text_body or "")
    assert match, message.text_body
    parts = urlsplit(match.group(0))
    return f"{parts.path}?{parts.query}"


def approved(client: Any, db: Any, settings: Any, **overrides: Any) -> tuple[m.InvolvementOpportunity, str]:
    """A public poster's opportunity approved by the fellow; the manage link from the poster's email."""
    opp = posted(client, db, **overrides)
    sign_in_as(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    response = post_form(client, f"/admin/involvement/{opp.id}/approve", follow_redirects=False)
    assert response.status_code == 303, response.text
    client.cookies.clear()
    return latest(db), manage_link(outbox(db, "involvement_posting_manage_link")[-1])


def interest(db: Any, opp: m.InvolvementOpportunity, name: str, email: str, **values: Any) -> m.InvolvementInterest:
    row = m.InvolvementInterest(
        opportunity_id=opp.id, name=name, email=email, note=values.pop("note", "I have used crisis teams."), **values
    )
    db.add(row)
    db.commit()
    return row


def token_of(link: str) -> str:
    return link.split("token=", 1)[1]


# ---------------------------------------------------------------------------------------------------------------
# The public form


def test_offer_page_explains_and_asks_for_every_field(client: Any) -> None:
    response = client.get("/involvement/offer")
    assert response.status_code == 200
    for field in (
        "organisation_name",
        "organisation_kind",
        "lived_experience_sought",
        "payment_amount",
        "contact_email",
    ):
        assert f'name="{field}"' in response.text
    assert "The fellow reads every opportunity" in response.text


def test_an_offer_waits_for_the_fellow_and_tells_the_poster_and_the_fellow(client: Any, db: Any) -> None:
    ensure_user(db, "fellow@example.org", m.Role.ADMIN, name="Fellow")
    db.commit()
    done = post_form(client, "/involvement/offer", offer())
    assert done.status_code == 200 and "sam.poster@uni.example.ac.uk" in done.text
    assert done.headers["cache-control"] == "no-store"  # it shows the poster's address
    opp = latest(db)
    assert opp.status == S.SUBMITTED and opp.public_posted and opp.submitted_at is not None
    assert opp.manage_key and opp.payment_pence == 2500 and opp.contact_email == "sam.poster@uni.example.ac.uk"
    org = db.get(m.Organisation, opp.organisation_id)
    assert org.name == "Northern Mental Health Research Unit" and org.kind == m.OrgKind.ACADEMIC
    assert org.review_status == m.ReviewStatus.SUBMITTED  # waits in the directory's review too
    (received,) = outbox(db, "involvement_posting_received")
    assert received.recipient == "sam.poster@uni.example.ac.uk"
    assert "reads every opportunity" in (received.text_body or "")
    (fellow,) = outbox(db, "involvement_posting_submitted")
    assert fellow.recipient == "fellow@example.org" and f"/admin/involvement/{opp.id}" in (fellow.text_body or "")
    # A second offer naming the same organisation finds it instead of adding it twice.
    posted(client, db, title="A second opportunity", organisation_name="northern mental health research unit")
    assert db.scalar(select(func.count()).select_from(m.Organisation).where(m.Organisation.kind == "academic")) == 1


def test_bad_input_re_renders_every_message_and_keeps_what_was_typed(client: Any, db: Any) -> None:
    past = (london_today(now()) - dt.timedelta(days=1)).isoformat()
    response = post_form(
        client,
        "/involvement/offer",
        offer(organisation_name="", organisation_kind="", closing_date=past, payment_amount="abc", title="Kept title"),
    )
    assert response.status_code == 422
    text = response.text
    assert "Enter the name of your organisation or team." in text
    assert "Say what kind of organisation is offering it." in text
    assert "The closing date is in the past" in text
    assert "Enter an amount in pounds" in text
    assert 'value="Kept title"' in text and 'value="abc"' in text
    response = post_form(client, "/involvement/offer", offer(payment_amount="", payment_basis=""))
    assert response.status_code == 422 and "Enter how much the role pays" in response.text
    response = post_form(client, "/involvement/offer", offer(payment_amount="-5"))
    assert response.status_code == 422 and "cannot be negative" in response.text
    response = post_form(client, "/involvement/offer", offer(closing_date="next tuesday", contact_email="nope"))
    assert response.status_code == 422 and "like 2027-03-31" in response.text
    assert db.scalar(select(func.count()).select_from(m.InvolvementOpportunity)) == 0


def test_robots_are_thanked_and_nothing_is_kept(client: Any, db: Any) -> None:
    response = post_form(client, "/involvement/offer", offer(nickname="bot"))
    assert response.status_code == 200 and "Thank you" in response.text
    assert db.scalar(select(func.count()).select_from(m.InvolvementOpportunity)) == 0


def test_offers_are_limited_per_connection_and_nothing_typed_is_lost(client: Any, db: Any) -> None:
    for n in range(posting.OFFER_LIMIT_PER_HOUR):
        posted(client, db, title=f"Opportunity {n}")
    response = post_form(client, "/involvement/offer", offer(title="One too many"))
    assert response.status_code == 429 and "Please try later" in response.text
    assert 'value="One too many"' in response.text


# ---------------------------------------------------------------------------------------------------------------
# Moderation and the manage link


def test_approval_publishes_and_sends_the_private_link(client: Any, db: Any, settings: Any) -> None:
    opp, link = approved(client, db, settings)
    assert opp.status == S.PUBLISHED and opp.published_at is not None and opp.reviewed_at is not None
    assert opp.manage_link_sent_at is not None
    message = outbox(db, "involvement_posting_manage_link")[-1]
    assert message.recipient == "sam.poster@uni.example.ac.uk"
    assert f"/involvement/{opp.slug}" in (message.text_body or "")
    page = client.get(link)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store" and "noindex" in page.headers["x-robots-tag"]
    assert "Nobody has expressed interest yet" in page.text and "Live" in page.text


def test_the_manage_page_shows_its_own_interest_only(client: Any, db: Any, settings: Any) -> None:
    opp, link = approved(client, db, settings)
    other, _ = approved(client, db, settings, title="Another team's opportunity")
    interest(db, opp, "Ada Applicant", "ada@example.org", access_needs="Step-free access")
    interest(db, other, "Otto Other", "otto@example.org")
    page = client.get(link)
    assert "Ada Applicant" in page.text and "ada@example.org" in page.text and "Step-free access" in page.text
    assert "Otto Other" not in page.text and "otto@example.org" not in page.text


def test_the_poster_sets_statuses_and_emails_a_decision_once(client: Any, db: Any, settings: Any) -> None:
    opp, link = approved(client, db, settings)
    ada = interest(db, opp, "Ada Applicant", "ada@example.org")
    token = token_of(link)
    url = f"/involvement/manage/interests/{ada.id}"
    response = post_form(client, url, {"token": token, "status": "contacted"}, follow_redirects=False)
    assert response.status_code == 303 and "notice=status" in response.headers["location"]
    assert outbox(db, "involvement_decision") == []
    response = post_form(client, url, {"token": token, "status": "selected", "notify": "1"}, follow_redirects=False)
    assert "notice=told" in response.headers["location"]
    (message,) = outbox(db, "involvement_decision")
    assert message.recipient == "ada@example.org" and "Good news" in message.subject
    assert "sam.poster@uni.example.ac.uk" in message.headers["Reply-To"]
    db.expire_all()
    row = db.get(m.InvolvementInterest, ada.id)
    assert row.status == m.InvolvementInterestStatus.SELECTED and row.notified_status == "selected"
    # A double click never sends the same news twice; a later different decision is a new email.
    post_form(client, url, {"token": token, "status": "selected", "notify": "1"})
    assert len(outbox(db, "involvement_decision")) == 1
    post_form(client, url, {"token": token, "status": "not-selected", "notify": "1"})
    messages = outbox(db, "involvement_decision")
    assert len(messages) == 2 and "not a judgement" in (messages[-1].text_body or "")
    # Contacted is not a decision: no email even when asked.
    post_form(client, url, {"token": token, "status": "contacted", "notify": "1"})
    assert len(outbox(db, "involvement_decision")) == 2
    history = db.scalars(select(m.AuditEntry.summary).where(m.AuditEntry.action == "interest status")).all()
    assert history and all("Ada" not in h for h in history)  # the audit names the row, not the person


def test_bad_status_and_another_opportunitys_interest_are_refused(client: Any, db: Any, settings: Any) -> None:
    opp, link = approved(client, db, settings)
    other, _ = approved(client, db, settings, title="Another one")
    mine = interest(db, opp, "Ada Applicant", "ada@example.org")
    theirs = interest(db, other, "Otto Other", "otto@example.org")
    token = token_of(link)
    response = post_form(client, f"/involvement/manage/interests/{mine.id}", {"token": token, "status": "hired"})
    assert response.status_code == 422 and "Choose new, contacted, selected or not selected." in response.text
    response = post_form(client, f"/involvement/manage/interests/{theirs.id}", {"token": token, "status": "selected"})
    assert response.status_code == 404
    db.expire_all()
    assert db.get(m.InvolvementInterest, theirs.id).status == m.InvolvementInterestStatus.NEW


def test_the_poster_closes_after_confirming(client: Any, db: Any, settings: Any) -> None:
    _opp, link = approved(client, db, settings)
    token = token_of(link)
    confirm = client.get(f"/involvement/manage/close?token={token}")
    assert confirm.status_code == 200 and "Yes, close it" in confirm.text
    response = post_form(client, "/involvement/manage/close", {"token": token}, follow_redirects=False)
    assert response.status_code == 303 and "notice=closed" in response.headers["location"]
    assert latest(db).status == S.CLOSED
    again = post_form(client, "/involvement/manage/close", {"token": token})
    assert again.status_code == 200 and "already closed" in again.text


def test_links_that_do_not_work_say_why(client: Any, db: Any, settings: Any) -> None:
    opp, link = approved(client, db, settings)
    token = token_of(link)
    assert client.get("/involvement/manage").status_code == 400
    tampered = client.get(f"/involvement/manage?token={token[:-3]}xyz")
    assert tampered.status_code == 400 and "not valid" in tampered.text
    forged = post_form(client, "/involvement/manage/close", {"token": "abc"})
    assert forged.status_code == 400 and latest(db).status == S.PUBLISHED
    # The fellow sends a new link: the old one is replaced.
    sign_in_as(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    post_form(client, f"/admin/involvement/{opp.id}/manage-link")
    client.cookies.clear()
    replaced = client.get(link)
    assert replaced.status_code == 400 and "replaced by a newer one" in replaced.text
    new_link = manage_link(outbox(db, "involvement_posting_manage_link")[-1])
    assert client.get(new_link).status_code == 200
    # Deleted: not found.
    db.delete(db.get(m.InvolvementOpportunity, opp.id))
    db.commit()
    assert client.get(new_link).status_code == 404


def test_an_expired_link_offers_a_new_one_sent_only_to_the_poster(client: Any, db: Any, settings: Any) -> None:
    _opp, link = approved(client, db, settings)
    token = token_of(link)
    later = now().timestamp() + (posting.MANAGE_DAYS + 1) * 86400
    with mock.patch("itsdangerous.timed.time.time", return_value=later):
        expired = client.get(link)
    assert expired.status_code == 400 and "expired" in expired.text and "Email me a new link" in expired.text
    before = len(outbox(db, "involvement_posting_manage_link"))
    with mock.patch("itsdangerous.timed.time.time", return_value=later):
        sent = post_form(client, "/involvement/manage/new-link", {"token": token})
    assert sent.status_code == 200 and "Check your email" in sent.text
    messages = outbox(db, "involvement_posting_manage_link")
    assert len(messages) == before + 1 and messages[-1].recipient == "sam.poster@uni.example.ac.uk"
    # A made-up token gets the same answer and sends nothing.
    same = post_form(client, "/involvement/manage/new-link", {"token": "made-up"})
    assert same.status_code == 200 and "Check your email" in same.text
    assert len(outbox(db, "involvement_posting_manage_link")) == before + 1


def test_rejection_tells_the_poster_kindly_with_the_note(client: Any, db: Any, settings: Any) -> None:
    opp = posted(client, db)
    sign_in_as(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    response = post_form(
        client, f"/admin/involvement/{opp.id}/reject", {"note": "Please say how people are paid."},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 303
    opp = latest(db)
    assert opp.status == S.REJECTED and opp.review_note == "Please say how people are paid."
    (message,) = outbox(db, "involvement_posting_rejected")
    assert "Please say how people are paid." in (message.text_body or "")
    again = post_form(client, f"/admin/involvement/{opp.id}/approve")
    assert again.status_code == 409 and "waiting for approval" in again.text


def test_approval_is_refused_when_the_closing_date_has_passed(client: Any, db: Any, settings: Any) -> None:
    opp = posted(client, db)
    opp.closing_date = london_today(now()) - dt.timedelta(days=2)
    opp.closes_at = now() - dt.timedelta(days=1)
    db.commit()
    sign_in_as(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    response = post_form(client, f"/admin/involvement/{opp.id}/approve")
    assert response.status_code == 409 and "closing date has passed" in response.text
    assert latest(db).status == S.SUBMITTED
    assert outbox(db, "involvement_posting_manage_link") == []


def test_the_manage_page_costs_the_same_statements_at_any_size(
    client: Any, db: Any, settings: Any, count_queries: Any
) -> None:
    opp, link = approved(client, db, settings)
    interest(db, opp, "Person 0", "p0@example.org")
    client.get(link)
    with count_queries() as small:
        assert client.get(link).status_code == 200
    for n in range(1, 10):
        interest(db, opp, f"Person {n}", f"p{n}@example.org")
    with count_queries() as large:
        page = client.get(link)
    assert page.status_code == 200 and "Person 9" in page.text
    assert small.count == large.count <= 5


def test_every_posting_email_is_a_valid_sendgrid_payload(client: Any, db: Any, settings: Any) -> None:
    from crm.mailing.transports.base import OutgoingEmail
    from crm.mailing.transports.sendgrid import build_payload
    from tests.mailing.sendgrid_schema import validate_payload

    ensure_user(db, "fellow@example.org", m.Role.ADMIN, name="Fellow")
    db.commit()
    opp, link = approved(client, db, settings)
    ada = interest(db, opp, "Ada Applicant", "ada@example.org")
    post_form(client, f"/involvement/manage/interests/{ada.id}", {"token": token_of(link), "status": "selected",
                                                                  "notify": "1"})  # fmt: skip
    rejected = posted(client, db, title="Turned down")
    sign_in_as(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    post_form(client, f"/admin/involvement/{rejected.id}/reject", {"note": "Say more about payment."})
    kinds = ("received", "submitted", "manage_link", "rejected")
    messages = [*outbox(db, "involvement_decision"), *(outbox(db, f"involvement_posting_{k}")[0] for k in kinds)]
    assert len(messages) == 5
    for message in messages:
        assert message.html_body and "{{" not in (message.text_body or "")
        email = OutgoingEmail(
            message.id, message.kind, message.recipient, message.recipient_name, message.subject,
            message.text_body or "", message.html_body or "", headers=dict(message.headers),
        )  # fmt: skip
        validate_payload(build_payload(email, settings))
