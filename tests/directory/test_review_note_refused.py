"""Rejecting a submitted group with a note over 1,000 characters: the review queue again with the message on that
group's note and the note kept, nothing decided; it was a bare page saying "Choose approve or reject." that lost the
note."""

from __future__ import annotations

import re

from crm import models as m
from tests import factories
from tests.conftest import post_form


def test_an_overlong_note_comes_back_on_its_group_with_the_text(admin_client, db):
    group = factories.organisation(
        db, "Harbour Voices", review_status=m.ReviewStatus.SUBMITTED, submitter_email="pat@example.org"
    )
    db.commit()
    note = "We could not confirm the group is UK based. " * 30  # 1,350 characters

    r = post_form(admin_client, f"/admin/organisations/{group.id}/review", {"decision": "reject", "note": note})

    assert r.status_code == 422
    assert "Choose approve or reject." not in r.text
    assert f'<a href="#f-note-{group.id}">Note must be at most 1000 characters' in r.text
    textarea = re.search(rf'<textarea id="f-note-{group.id}"[^>]*>([^<]*)</textarea>', r.text)
    assert 'aria-invalid="true"' in textarea.group(0) and textarea.group(1) == note
    db.expire_all()
    assert db.get(m.Organisation, group.id).review_status == m.ReviewStatus.SUBMITTED
