"""Admin pages: editor scoping on every route, moderation by the fellow, interest privacy, audit history,
form re-rendering on bad input."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from crm import models as m
from tests import factories
from tests.conftest import post_form
from tests.internships.helpers import form_data, make_internship, sign_in

S = m.InternshipStatus


@pytest.fixture
def orgs(db):
    mine, other = factories.organisation(db, "Own Org"), factories.organisation(db, "Other Org")
    db.commit()
    return mine, other


def count(db) -> int:
    return db.scalar(select(func.count(m.Internship.id)))


def test_editor_creates_for_own_org_and_waits_for_approval(client, db, settings, orgs):
    mine, _ = orgs
    sign_in(client, db, settings, "editor@example.org", m.Role.EDITOR, mine.id)
    response = post_form(client, "/admin/internships/new", form_data(mine.id), follow_redirects=False)
    assert response.status_code == 303
    internship = db.scalar(select(m.Internship))
    assert internship.status == S.SUBMITTED and internship.published_at is None
    assert internship.stipend_pence == 25000 and internship.closes_at.tzinfo is not None
    assert client.get(f"/internships/{internship.slug}").status_code == 404
    assert "Research assistant" not in client.get("/internships").text
    entry = db.scalar(select(m.AuditEntry).where(m.AuditEntry.entity == "internship"))
    assert entry.action == "create" and entry.actor == "editor@example.org"


def test_every_admin_route_refuses_another_orgs_listing(client, db, settings, orgs):
    mine, other = orgs
    theirs = make_internship(db, other, title="Theirs", status=S.SUBMITTED)
    own = make_internship(db, mine, title="Own listing", status=S.DRAFT)
    db.commit()
    sign_in(client, db, settings, "editor@example.org", m.Role.EDITOR, mine.id)
    # Create for another organisation: 403, nothing created.
    before = count(db)
    assert post_form(client, "/admin/internships/new", form_data(other.id)).status_code == 403
    assert count(db) == before
    assert client.get(f"/admin/internships/new?organisation={other.id}").status_code == 403
    # Read, edit, update and every action on another organisation's listing: 403.
    assert client.get(f"/admin/internships/{theirs.id}").status_code == 403
    assert client.get(f"/admin/internships/{theirs.id}/edit").status_code == 403
    assert post_form(client, f"/admin/internships/{theirs.id}/edit", form_data(other.id)).status_code == 403
    for action in ("submit", "approve", "reject", "close", "filled", "reopen", "delete"):
        assert post_form(client, f"/admin/internships/{theirs.id}/{action}").status_code == 403, action
    # Moving one's own listing to another organisation: 403.
    assert post_form(client, f"/admin/internships/{own.id}/edit", form_data(other.id)).status_code == 403
    db.expire_all()
    assert db.get(m.Internship, theirs.id).status == S.SUBMITTED and db.get(m.Internship, theirs.id).title == "Theirs"
    assert db.get(m.Internship, own.id).host_organisation_id == mine.id
    # The list shows only their organisation's listings.
    page = client.get("/admin/internships")
    assert "Own listing" in page.text and "Theirs" not in page.text
    # An editor cannot approve their own listing either.
    assert post_form(client, f"/admin/internships/{own.id}/approve").status_code == 403


def test_editor_without_organisation_and_viewer_are_refused(client, db, settings, orgs):
    mine, _ = orgs
    sign_in(client, db, settings, "loose@example.org", m.Role.EDITOR, None)
    assert client.get("/admin/internships/new").status_code == 403
    assert post_form(client, "/admin/internships/new", form_data(mine.id)).status_code == 403
    sign_in(client, db, settings, "viewer@example.org", m.Role.VIEWER, mine.id)
    assert client.get("/admin/internships").status_code == 403
    assert post_form(client, "/admin/internships/new", form_data(mine.id)).status_code == 403
    client.cookies.clear()
    assert client.get("/admin/internships", follow_redirects=False).status_code == 303


def test_fellow_moderates_approve_reject_close_fill_reopen(client, db, settings, orgs):
    mine, _ = orgs
    waiting = make_internship(db, mine, title="Waiting", status=S.SUBMITTED)
    other = make_internship(db, mine, title="Second", status=S.SUBMITTED)
    db.commit()
    sign_in(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    assert post_form(client, f"/admin/internships/{waiting.id}/approve", follow_redirects=False).status_code == 303
    db.expire_all()
    assert db.get(m.Internship, waiting.id).status == S.PUBLISHED
    assert "Waiting" in client.get("/internships").text
    post_form(client, f"/admin/internships/{other.id}/reject", {"note": "Please add the stipend period."})
    db.expire_all()
    rejected = db.get(m.Internship, other.id)
    assert rejected.status == S.DRAFT and rejected.review_note == "Please add the stipend period."
    post_form(client, f"/admin/internships/{waiting.id}/filled")
    db.expire_all()
    assert db.get(m.Internship, waiting.id).status == S.FILLED
    assert "Waiting" not in client.get("/internships").text
    assert "has been filled" in client.get(f"/internships/{waiting.slug}").text
    post_form(client, f"/admin/internships/{waiting.id}/reopen")
    post_form(client, f"/admin/internships/{waiting.id}/close")
    db.expire_all()
    assert db.get(m.Internship, waiting.id).status == S.CLOSED
    # A transition that does not apply explains itself (409), nothing changes.
    response = post_form(client, f"/admin/internships/{waiting.id}/submit")
    assert response.status_code == 409 and "cannot be changed" in response.text
    detail = client.get(f"/admin/internships/{waiting.id}")
    assert "History" in detail.text and "approve" in detail.text and "filled" in detail.text


def test_fellow_creates_published_and_editor_edit_goes_back_to_approval(client, db, settings, orgs):
    mine, _ = orgs
    sign_in(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    post_form(client, "/admin/internships/new", form_data(mine.id))
    internship = db.scalar(select(m.Internship))
    assert internship.status == S.PUBLISHED and internship.published_at is not None
    sign_in(client, db, settings, "editor@example.org", m.Role.EDITOR, mine.id)
    edit = client.get(f"/admin/internships/{internship.id}/edit")
    assert edit.status_code == 200 and 'value="250.00"' in edit.text
    data = form_data(mine.id, title="Renamed listing")
    assert (
        post_form(client, f"/admin/internships/{internship.id}/edit", data, follow_redirects=False).status_code == 303
    )
    db.expire_all()
    internship = db.get(m.Internship, internship.id)
    assert internship.title == "Renamed listing" and internship.status == S.SUBMITTED
    history = client.get(f"/admin/internships/{internship.id}").text
    assert "Title: Research assistant with a peer support charity → Renamed listing" in history


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"closing_date": "2020-01-01"}, "closing_date", "in the past"),
        ({"closing_date": "next week"}, "closing_date", "date like"),
        ({"stipend_amount": "-5"}, "stipend_amount", "cannot be negative"),
        ({"stipend_amount": "lots"}, "stipend_amount", "amount in pounds"),
        ({"stipend_amount": ""}, "stipend_amount", "Enter the stipend"),
        ({"apply_url": "javascript:alert(1)"}, "apply_url", "http:// or https://"),
        ({"apply_url": "ftp://example.org/x"}, "apply_url", "http:// or https://"),
        ({"apply_url": "", "apply_email": ""}, "apply_url", "Say how to apply"),
        ({"hours_per_week": "many"}, "hours_per_week", "whole number"),
        ({"title": ""}, "title", "Enter a title"),
        ({"mode": "moon"}, "mode", "on-site, hybrid or remote"),
    ],
)
def test_bad_input_rerenders_the_form_with_values(client, db, settings, orgs, overrides, field, message):
    mine, _ = orgs
    sign_in(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    data = form_data(mine.id, description="Keep this text", **overrides)
    response = post_form(client, "/admin/internships/new", data)
    assert response.status_code == 422
    assert message in response.text
    assert f'id="f-{field}-error"' in response.text or f'href="#f-{field}"' in response.text
    assert "Keep this text</textarea>" in response.text
    assert count(db) == 0


def test_unpaid_ignores_stipend_and_shows_unpaid(client, db, settings, orgs):
    mine, _ = orgs
    sign_in(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    data = form_data(mine.id, paid="", stipend_amount="-5", stipend_period="")
    assert post_form(client, "/admin/internships/new", data, follow_redirects=False).status_code == 303
    internship = db.scalar(select(m.Internship))
    assert not internship.paid and internship.stipend_pence is None
    assert "Unpaid" in client.get(f"/internships/{internship.slug}").text


def test_editing_keeps_a_past_closing_date_of_a_closed_listing(client, db, settings, orgs):
    mine, _ = orgs
    closed = make_internship(db, mine, title="Old", status=S.CLOSED, days=-5)
    db.commit()
    sign_in(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    data = form_data(mine.id, title="Old, fixed typo", closing_date=closed.closing_date.isoformat())
    assert post_form(client, f"/admin/internships/{closed.id}/edit", data, follow_redirects=False).status_code == 303
    # Reopening a listing whose closing date passed is refused with a reason.
    response = post_form(client, f"/admin/internships/{closed.id}/reopen")
    assert response.status_code == 409 and "closing date has passed" in response.text


def test_interest_registrations_visible_only_to_fellow_and_host_editors(client, db, settings, orgs):
    mine, other = orgs
    internship = make_internship(db, mine, title="Private test")
    db.add(m.InternshipInterest(internship_id=internship.id, name="Ada Example", email="ada@example.org", note="Hi"))
    db.commit()
    sign_in(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    page = client.get(f"/admin/internships/{internship.id}")
    assert "ada@example.org" in page.text and "Registrations of interest (1)" in page.text
    listing = client.get("/admin/internships")
    assert "Private test" in listing.text
    sign_in(client, db, settings, "editor@example.org", m.Role.EDITOR, mine.id)
    assert "ada@example.org" in client.get(f"/admin/internships/{internship.id}").text
    sign_in(client, db, settings, "stranger@example.org", m.Role.EDITOR, other.id)
    response = client.get(f"/admin/internships/{internship.id}")
    assert response.status_code == 403 and "ada@example.org" not in response.text
    sign_in(client, db, settings, "viewer@example.org", m.Role.VIEWER, mine.id)
    assert client.get(f"/admin/internships/{internship.id}").status_code == 403


def test_delete_by_own_editor(client, db, settings, orgs):
    mine, _ = orgs
    internship = make_internship(db, mine, status=S.DRAFT)
    db.commit()
    sign_in(client, db, settings, "editor@example.org", m.Role.EDITOR, mine.id)
    assert post_form(client, f"/admin/internships/{internship.id}/delete", follow_redirects=False).status_code == 303
    assert count(db) == 0
    assert db.scalar(select(m.AuditEntry.action).where(m.AuditEntry.entity_id == internship.id)) == "delete"


def test_admin_list_statement_count_is_constant(client, db, settings, orgs, count_queries):
    mine, _ = orgs
    for n in range(25):
        make_internship(db, mine, title=f"Row {n}")
    db.commit()
    sign_in(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    counts = []
    for size in (1, 10, 100):
        with count_queries() as q:
            assert client.get(f"/admin/internships?page_size={size}").status_code == 200
        counts.append(q.count)
    assert counts[0] == counts[1] == counts[2]


def test_closing_date_boundary_is_end_of_day_london():
    from crm.internships.services import closes_at_for

    summer = closes_at_for(dt.date(2026, 7, 1))
    winter = closes_at_for(dt.date(2026, 12, 1))
    assert summer == dt.datetime(2026, 7, 1, 23, 0, tzinfo=dt.UTC)  # BST: midnight London = 23:00 UTC
    assert winter == dt.datetime(2026, 12, 2, 0, 0, tzinfo=dt.UTC)


def test_moderation_emails_to_fellow_and_poster(client, db, settings, orgs):
    mine, _ = orgs
    sign_in(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    sign_in(client, db, settings, "editor@example.org", m.Role.EDITOR, mine.id)
    post_form(client, "/admin/internships/new", form_data(mine.id))
    internship = db.scalar(select(m.Internship))
    waiting = db.scalars(select(m.OutboxMessage).where(m.OutboxMessage.kind == "internship_submitted")).all()
    assert [w.recipient for w in waiting] == ["fellow@example.org"]
    assert f"/admin/internships/{internship.id}" in waiting[0].text_body
    sign_in(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    post_form(client, f"/admin/internships/{internship.id}/reject", {"note": "Add the hours, please."})
    reviewed = db.scalar(select(m.OutboxMessage).where(m.OutboxMessage.kind == "internship_reviewed"))
    assert reviewed.recipient == "editor@example.org" and "Add the hours, please." in reviewed.text_body
    assert "needs changes" in reviewed.subject
    sign_in(client, db, settings, "editor@example.org", m.Role.EDITOR, mine.id)
    post_form(client, f"/admin/internships/{internship.id}/submit")
    assert db.scalar(select(func.count(m.OutboxMessage.id)).where(m.OutboxMessage.kind == "internship_submitted")) == 2
    sign_in(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    post_form(client, f"/admin/internships/{internship.id}/approve")
    subjects = db.scalars(select(m.OutboxMessage.subject).where(m.OutboxMessage.kind == "internship_reviewed")).all()
    assert any("is live" in s for s in subjects)
