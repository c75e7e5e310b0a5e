"""A task saved without an owner said "Choose a owner.": the required-choice message now takes "an" before a
label that starts with a vowel sound (and keeps "a" before one that does not, such as "user")."""

from __future__ import annotations

import pytest

from crm.validation import Form
from tests import factories
from tests.conftest import post_form


def test_a_task_without_an_owner_asks_for_an_owner(admin_client, db):
    org = factories.organisation(db, "Mind in Camden")
    db.commit()

    bad = post_form(
        admin_client, f"/admin/organisations/{org.id}/tasks", {"title": "Ring back", "due_date": "2026-01-05"}
    )

    assert bad.status_code == 422
    assert "Choose an owner." in bad.text
    assert "Choose a owner" not in bad.text


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("Owner", "Choose an owner."),
        ("answer", "Choose an answer."),
        ("Kind", "Choose a kind."),
        ("reply", "Choose a reply."),
        ("Unit", "Choose a unit."),
        ("user group", "Choose a user group."),
        ("hour", "Choose an hour."),
        ("one-off option", "Choose a one-off option."),
        ("Undo reason", "Choose an undo reason."),
    ],
)
def test_the_required_choice_message_takes_the_article_its_label_is_said_with(label, message):
    form = Form({})
    form.choice("field", {"x"}, required=True, label=label)
    assert form.errors["field"] == message
