"""Journey (issue 17.3): from a contact's page, keyboard only, the fellow opens the timeline, types a note, adds it
with Enter on the button, and sees it at the top; an empty note is refused with the message beside the field."""

from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import expect

from crm import models as m
from tests.browser.a11y import horizontal_overflow, serious_violations
from tests.browser.keyboard import tab_to

pytestmark = pytest.mark.browser


def test_add_a_note_by_keyboard(page, live, signed_in):
    tag = secrets.token_hex(3)
    with live.session() as s:
        person = m.Contact(name=f"Timeline Person {tag}", email=f"timeline-{tag}@example.org")
        s.add(person)
        s.commit()
        person_id = person.id
    signed_in(m.Role.ADMIN)

    page.goto(f"/admin/contacts/{person_id}")
    tab_to(page, f'a[href="/admin/contacts/{person_id}/timeline"]')
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Timeline: Timeline Person {tag}")
    expect(page.get_by_text("Nothing has happened here yet")).to_be_visible()

    tab_to(page, "#f-body")
    tab_to(page, 'form[action$="/notes"] button[type="submit"]')
    page.keyboard.press("Enter")  # empty: refused, with the message tied to the field
    expect(page.locator("#f-body-error")).to_contain_text("Note is required.")
    expect(page.locator("#f-body")).to_have_attribute("aria-invalid", "true")

    tab_to(page, "#f-body")
    page.keyboard.type("Prefers a call on Tuesdays; ask about the carers' group.")
    tab_to(page, 'form[action$="/notes"] button[type="submit"]')
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Note added.")
    first = page.locator("ol.timeline > li").first
    expect(first).to_contain_text("Note")
    expect(first).to_contain_text("Prefers a call on Tuesdays; ask about the carers' group.")
    assert serious_violations(page) == []
    page.set_viewport_size({"width": 390, "height": 844})
    assert horizontal_overflow(page) == []
