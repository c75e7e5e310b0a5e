"""The timeline pages: what they show, the note and task forms (422 with every message, audited), complete and
reopen, My tasks, and that only admins reach them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from crm import models as m
from tests import factories
from tests.conftest import post_form, sign_in_as
from tests.timeline.helpers import every_source


def _people(db):
    org = factories.organisation(db, "Mind in Camden")
    person = factories.contact(db, "Jo Bloggs", "jo@example.org", organisation=org)
    db.commit()
    return org, person


def _audit(db, entity):
    db.expire_all()
    return list(db.scalars(select(m.AuditEntry).where(m.AuditEntry.entity == entity).order_by(m.AuditEntry.id)))


def _fellow(db):
    return db.scalar(select(m.User).where(m.User.email == "fellow@example.org"))


def test_an_empty_timeline_says_so_and_offers_the_forms(admin_client, db):
    _, person = _people(db)
    page = admin_client.get(f"/admin/contacts/{person.id}/timeline")
    assert page.status_code == 200
    assert "Timeline: Jo Bloggs" in page.text and "Nothing has happened here yet" in page.text
    assert 'for="f-body"' in page.text and 'for="f-title"' in page.text and 'for="f-due_date"' in page.text
    assert 'name="_csrf_token"' in page.text


def test_every_source_is_on_the_page_in_words_and_filters_by_kind(admin_client, db):
    org, person = _people(db)
    every_source(db, person, org, _fellow(db))
    db.commit()
    page = admin_client.get(f"/admin/contacts/{person.id}/timeline").text
    for words in (
        "Email sent",
        "Delivered",
        "Opened",
        "Subscribed",
        "Invited to an event",
        "Answered yes",
        "Attended",
        "Registered interest in an internship",
        "Partnership meeting",
        "Edited",
        "Job title: set to Researcher",
        "Prefers phone calls",
        "Send the consent form",
        "overdue",
    ):
        assert words in page, words
    only = admin_client.get(f"/admin/contacts/{person.id}/timeline?kind=note&kind=email").text
    assert "Email sent" in only and "Prefers phone calls" in only and "Answered yes" not in only
    org_page = admin_client.get(f"/admin/organisations/{org.id}/timeline").text
    assert "Timeline: Mind in Camden" in org_page and "Imported" in org_page and "Office moves" in org_page


def test_timeline_pages_link_older_and_newer(admin_client, db):
    org, person = _people(db)
    user = _fellow(db)
    for base in range(0, 60, 20):
        every_source(db, person, org, user, base=base)
    db.commit()
    first = admin_client.get(f"/admin/contacts/{person.id}/timeline?kind=note&kind=task&kind=email")
    assert "Older ›" not in first.text  # 9 items: one page
    every_source(db, person, org, user, base=80)
    for base in range(100, 400, 20):
        every_source(db, person, org, user, base=base)
    db.commit()
    first = admin_client.get(f"/admin/contacts/{person.id}/timeline")
    assert 'rel="next"' in first.text and 'rel="prev"' not in first.text
    href = first.text.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = admin_client.get(href)
    assert second.status_code == 200 and 'rel="prev"' in second.text and "Newest" in second.text


def test_add_a_note_validation_then_success_audited(admin_client, db):
    _, person = _people(db)
    bad = post_form(admin_client, f"/admin/contacts/{person.id}/notes", {"body": "   "})
    assert bad.status_code == 422 and "Note is required." in bad.text and 'aria-invalid="true"' in bad.text
    too_long = post_form(admin_client, f"/admin/contacts/{person.id}/notes", {"body": "x" * 5001})
    assert too_long.status_code == 422 and "at most 5000 characters" in too_long.text
    ok = post_form(
        admin_client, f"/admin/contacts/{person.id}/notes", {"body": "Met at the café"}, follow_redirects=False
    )
    assert ok.status_code == 303 and ok.headers["location"] == f"/admin/contacts/{person.id}/timeline?notice=note"
    page = admin_client.get(ok.headers["location"]).text
    assert "Note added." in page and "Met at the café" in page
    note = db.scalar(select(m.TimelineNote))
    assert note.contact_id == person.id and note.author == "Fellow"
    [created] = _audit(db, "timeline_note")
    assert created.action == "created" and created.changes == {"body": [None, "Met at the café"]}
    # Edit: the form, a refusal, then the change recorded with its old value.
    assert admin_client.get(f"/admin/notes/{note.id}/edit").status_code == 200
    assert post_form(admin_client, f"/admin/notes/{note.id}/edit", {"body": ""}).status_code == 422
    saved = post_form(
        admin_client, f"/admin/notes/{note.id}/edit", {"body": "Met at the café in May"}, follow_redirects=False
    )
    assert saved.status_code == 303
    assert _audit(db, "timeline_note")[-1].changes == {"body": ["Met at the café", "Met at the café in May"]}


def test_add_a_task_validation_edit_complete_reopen_audited(admin_client, db):
    org, _ = _people(db)
    fellow = _fellow(db)
    url = f"/admin/organisations/{org.id}/tasks"
    bad = post_form(admin_client, url, {"title": "", "due_date": "next week", "owner_id": "99999"})
    assert bad.status_code == 422
    for message in (
        "What needs doing is required.",
        "Due date must be a date like 2026-12-31.",
        "Choose a valid owner.",
    ):
        assert message in bad.text
    assert db.scalar(select(m.TimelineTask)) is None
    ok = post_form(
        admin_client,
        url,
        {"title": "Book the room", "due_date": "2026-01-05", "owner_id": str(fellow.id)},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    task = db.scalar(select(m.TimelineTask))
    assert task.organisation_id == org.id and task.owner_id == fellow.id and task.due_date == dt.date(2026, 1, 5)
    assert admin_client.get(f"/admin/tasks/{task.id}/edit").status_code == 200
    refused = post_form(
        admin_client,
        f"/admin/tasks/{task.id}/edit",
        {"title": "Book the room", "due_date": "", "owner_id": str(fellow.id)},
    )
    assert refused.status_code == 422 and "Due date is required." in refused.text
    post_form(
        admin_client,
        f"/admin/tasks/{task.id}/edit",
        {"title": "Book the big room", "due_date": "2026-01-06", "owner_id": str(fellow.id)},
    )
    mine = admin_client.get("/admin/tasks").text
    assert "Book the big room" in mine and "overdue" in mine and "Mind in Camden" in mine
    done = post_form(admin_client, f"/admin/tasks/{task.id}/complete", {"back": "tasks"}, follow_redirects=False)
    assert done.headers["location"] == "/admin/tasks?notice=done"
    db.refresh(task)
    assert task.done_at is not None and task.done_by == "Fellow"
    assert "Done lately" in admin_client.get("/admin/tasks").text
    post_form(admin_client, f"/admin/tasks/{task.id}/reopen", {})
    db.refresh(task)
    assert task.done_at is None
    actions = [(e.action, e.changes) for e in _audit(db, "timeline_task")]
    assert [a for a, _ in actions] == ["created", "updated", "completed", "reopened"]
    assert actions[1][1] == {"due_date": ["2026-01-05", "2026-01-06"], "title": ["Book the room", "Book the big room"]}


def test_forms_need_the_csrf_token(admin_client, db):
    _, person = _people(db)
    answer = admin_client.post(f"/admin/contacts/{person.id}/notes", data={"body": "no token"})
    assert answer.status_code == 403
    assert db.scalar(select(m.TimelineNote)) is None


def test_only_admins_reach_timelines_notes_and_tasks(client, db, settings):
    org, person = _people(db)
    db.add(m.TimelineNote(organisation_id=org.id, body="Private working note", author="Fellow"))
    db.commit()
    sign_in_as(client, db, settings, "editor@example.org", m.Role.EDITOR)
    db.execute(m.User.__table__.update().where(m.User.email == "editor@example.org").values(organisation_id=org.id))
    db.commit()
    note_id = db.scalar(select(m.TimelineNote.id))
    for url in (
        f"/admin/organisations/{org.id}/timeline",
        f"/admin/contacts/{person.id}/timeline",
        "/admin/tasks",
        f"/admin/notes/{note_id}/edit",
    ):
        answer = client.get(url, follow_redirects=False)
        assert answer.status_code in {403, 303}, url
        assert "Private working note" not in answer.text
    refused = post_form(client, f"/admin/organisations/{org.id}/notes", {"body": "sneaky"}, follow_redirects=False)
    assert refused.status_code in {403, 303}
    assert db.scalar(select(m.TimelineNote.body).where(m.TimelineNote.body == "sneaky")) is None


def test_unknown_records_are_404(admin_client):
    assert admin_client.get("/admin/contacts/999999/timeline").status_code == 404
    assert admin_client.get("/admin/organisations/999999/timeline").status_code == 404
    assert admin_client.get("/admin/tasks/999999/edit").status_code == 404
    assert post_form(admin_client, "/admin/tasks/999999/complete", {}).status_code == 404


def test_contact_and_organisation_pages_link_to_their_timeline(admin_client, db):
    org, person = _people(db)
    assert f'href="/admin/contacts/{person.id}/timeline"' in admin_client.get(f"/admin/contacts/{person.id}").text
    assert f'href="/admin/organisations/{org.id}/timeline"' in admin_client.get(f"/admin/organisations/{org.id}").text
