"""The partnership form given values its menus never offer (an unknown stage, an id too large for the database):
the form comes back with a message and everything typed, never a 500 or a bare error page."""

from __future__ import annotations

from sqlalchemy import func, select

from crm import models as m
from tests.conftest import post_form

TYPED = "Co-produced crisis line evaluation"


def _count(db) -> int:
    return db.scalar(select(func.count()).select_from(m.Partnership))


def test_unknown_stage_redisplays_the_form_with_a_message(admin_client, db):
    response = post_form(admin_client, "/admin/partnerships/new", {"title": TYPED, "stage": "bogus"})
    assert response.status_code == 422
    assert "Choose a valid stage." in response.text
    assert f'value="{TYPED}"' in response.text
    assert _count(db) == 0


def test_ids_too_large_for_the_database_are_field_errors(admin_client, db):
    huge = "99999999999999999999"
    for field in ("funding_call_id", "member_org_0", "topic_ids"):
        data = {"title": TYPED, "stage": "idea", "member_side_0": "vcse", field: huge}
        response = post_form(admin_client, "/admin/partnerships/new", data)
        assert response.status_code == 422, field
        assert f'value="{TYPED}"' in response.text, field
        assert "Choose" in response.text and "from the list" in response.text, field
    assert _count(db) == 0
