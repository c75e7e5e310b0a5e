"""Lifting a suppression without a reason: the message sits on that row's own "Reason for lifting" field and the
error summary links there, not to the add form's field of the same name above the list."""

from __future__ import annotations

import re

from sqlalchemy import select

from crm import models as m
from tests.conftest import post_form


def test_a_lift_without_a_reason_is_shown_on_the_row_being_lifted(admin_client, db):
    for address in ("pat@example.org", "sam@example.org"):
        post_form(admin_client, "/admin/suppressions", {"email": address, "reason": "manual", "note": "by phone"})
    row = db.scalar(select(m.Suppression).where(m.Suppression.address == "pat@example.org"))

    r = post_form(admin_client, f"/admin/suppressions/{row.id}/lift", {"note": ""})

    assert r.status_code == 400
    assert f'<a href="#f-lift-{row.id}">Reason for lifting is required.</a>' in r.text
    lift_field = re.search(rf'<input id="f-lift-{row.id}"[^>]*>', r.text).group(0)
    assert 'aria-invalid="true"' in lift_field
    add_field = re.search(r'<input id="f-note"[^>]*>', r.text).group(0)
    assert "aria-invalid" not in add_field  # the add form was not the one refused
    assert r.text.count("Reason for lifting is required.") == 2  # the summary and that row, no other
    db.expire_all()
    assert db.get(m.Suppression, row.id).lifted_at is None
