"""A refused stage move (the partnership record's stage select) and a refused invite by address (the event audience
page's address box) mark their control invalid and describe it by its message beside it, as every other field does;
both showed the problem only in the summary, so a screen reader on the control heard nothing wrong."""

from __future__ import annotations

import datetime as dt
import html
import re

from sqlalchemy import select

from crm import models as m
from tests.conftest import post_form
from tests.events import factories as f
from tests.partnerships.test_routes import form, two_orgs


def _control(page: str, tag: str, control_id: str) -> str:
    match = re.search(rf"<{tag}\b[^>]*\bid=\"{control_id}\"[^>]*>", page)
    assert match, f"no {tag}#{control_id}"
    return match.group(0)


def test_a_refused_stage_move_marks_the_stage_select(admin_client, db):
    uni, charity = two_orgs(db)
    post_form(admin_client, "/admin/partnerships/new", form(uni, charity, stage="active"))
    p = db.scalar(select(m.Partnership))

    refused = post_form(admin_client, f"/admin/partnerships/{p.id}/stage", {"stage": "nonsense"})

    assert refused.status_code == 422
    select_tag = _control(refused.text, "select", "f-stage")
    assert 'aria-invalid="true"' in select_tag and 'aria-describedby="f-stage-error"' in select_tag
    message = re.search(r'<p class="error" id="f-stage-error">(.*?)</p>', refused.text, re.S)
    assert message and "Choose a valid stage." in message.group(1)
    fine = admin_client.get(f"/admin/partnerships/{p.id}").text
    assert "aria-invalid" not in _control(fine, "select", "f-stage")


def test_refused_addresses_mark_the_address_box(app, db, admin_client):
    event = f.event(db, app, now=dt.datetime.now(dt.UTC))
    db.commit()

    refused = post_form(admin_client, f"/admin/events/{event.id}/audience/addresses", {"addresses": "nope"})

    assert refused.status_code == 422
    box = _control(refused.text, "textarea", "f-addresses")
    assert 'aria-invalid="true"' in box and 'aria-describedby="f-addresses-hint f-addresses-error"' in box
    message = re.search(r'<p class="error" id="f-addresses-error">(.*?)</p>', refused.text, re.S)
    assert message and "“nope” is not an email address" in html.unescape(message.group(1))
    fine = admin_client.get(f"/admin/events/{event.id}/audience").text
    assert "aria-invalid" not in _control(fine, "textarea", "f-addresses")


def test_the_new_partnership_forms_stage_select_is_marked_too(admin_client, db):
    uni, charity = two_orgs(db)
    refused = post_form(admin_client, "/admin/partnerships/new", form(uni, charity, stage="bogus"))
    assert refused.status_code == 422
    select_tag = _control(refused.text, "select", "f-stage")
    assert 'aria-invalid="true"' in select_tag and 'aria-describedby="f-stage-error"' in select_tag
