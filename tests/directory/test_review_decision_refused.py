"""A review decision other than the queue's two buttons (a tampered or replayed post): the review queue again with
a message on that group's row and the note kept, nothing decided; it was a bare 400 page that lost the note."""

from __future__ import annotations

import re

from crm import models as m
from tests import factories
from tests.conftest import post_form


def _waiting(db, name: str) -> m.Organisation:
    return factories.organisation(db, name, review_status=m.ReviewStatus.SUBMITTED, submitter_email="pat@example.org")


def test_a_tampered_decision_comes_back_on_its_group_with_the_note(admin_client, db):
    group, other = _waiting(db, "Harbour Voices"), _waiting(db, "Riverside Peers")
    db.commit()
    note = "Welcome aboard — we checked the charity number."

    r = post_form(admin_client, f"/admin/organisations/{group.id}/review", {"decision": "publish", "note": note})

    assert r.status_code == 422
    assert f'<a href="#f-decision-{group.id}">Choose Approve and publish or Reject.</a>' in r.text
    row = re.search(
        rf'<div class="field has-error" id="f-decision-{group.id}"[^>]*>\s*<p class="error"[^>]*>(.*?)</p>',
        r.text,
        re.S,
    )
    assert row and "Choose Approve and publish or Reject." in row.group(1)
    assert f'aria-describedby="f-decision-{group.id}-error"' in row.group(0)
    textarea = re.search(rf'<textarea id="f-note-{group.id}"[^>]*>([^<]*)</textarea>', r.text)
    assert textarea.group(1) == note
    assert f'id="f-decision-{other.id}-error"' not in r.text  # the other group's row is as it was
    db.expire_all()
    assert db.get(m.Organisation, group.id).review_status == m.ReviewStatus.SUBMITTED


def test_a_missing_decision_and_an_overlong_note_are_both_on_the_row(admin_client, db):
    group = _waiting(db, "Harbour Voices")
    db.commit()
    note = "x" * 1001

    r = post_form(admin_client, f"/admin/organisations/{group.id}/review", {"note": note})

    assert r.status_code == 422
    assert f'<a href="#f-decision-{group.id}">Choose Approve and publish or Reject.</a>' in r.text
    assert f'<a href="#f-note-{group.id}">Note must be at most 1000 characters' in r.text
    assert re.search(rf'<textarea id="f-note-{group.id}"[^>]*>([^<]*)</textarea>', r.text).group(1) == note
    db.expire_all()
    assert db.get(m.Organisation, group.id).review_status == m.ReviewStatus.SUBMITTED


def test_a_real_decision_still_goes_through(admin_client, db):
    group = _waiting(db, "Harbour Voices")
    db.commit()
    r = post_form(
        admin_client, f"/admin/organisations/{group.id}/review", {"decision": "approve"}, follow_redirects=False
    )
    assert r.status_code == 303
    db.expire_all()
    assert db.get(m.Organisation, group.id).review_status != m.ReviewStatus.SUBMITTED


def test_a_second_decision_on_a_group_already_reviewed_is_the_queue_saying_so(admin_client, db):
    group = _waiting(db, "Harbour Voices")
    db.commit()
    first = post_form(admin_client, f"/admin/organisations/{group.id}/review", {"decision": "approve", "note": ""})
    assert first.status_code in (200, 303)
    again = post_form(admin_client, f"/admin/organisations/{group.id}/review", {"decision": "reject", "note": "stale"})
    assert again.status_code == 409
    assert "<h1>Groups waiting for review</h1>" in again.text
    assert "Harbour Voices: This organisation has already been reviewed." in again.text
    db.expire_all()
    assert db.get(m.Organisation, group.id).review_status == m.ReviewStatus.APPROVED
