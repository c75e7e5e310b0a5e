"""Journey: the fellow finds a duplicate by searching from an organisation's page (htmx shows the matches while
typing), compares both records field by field, takes the other's name and website, merges, then undoes the merge
from its page and finds both records as they were."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from crm import models as m
from tests import factories
from tests.browser.a11y import horizontal_overflow, serious_violations, unreadable_controls

pytestmark = pytest.mark.browser


def test_fellow_searches_compares_chooses_merges_and_undoes(page, live, signed_in):
    signed_in(m.Role.ADMIN)
    with live.session() as s:
        a = factories.organisation_via_form(s, "Riverside Voices", description="Peer support by the river.")
        b = factories.organisation_via_form(
            s, "Riverside Voices Network", website="https://riverside.example.org", description="A network."
        )
        s.commit()
        a_id, b_id = a.id, b.id

    page.goto(f"/admin/organisations/{a_id}")
    search = page.get_by_label("Find the other organisation")
    search.press_sequentially("Voices Net", delay=30)
    link = page.get_by_role("link", name=f"Compare with #{b_id} Riverside Voices Network")
    expect(link).to_be_visible()
    link.click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Merge two organisations")
    expect(page.get_by_role("table")).to_contain_text("Peer support by the river.")
    expect(page.get_by_role("table")).to_contain_text("A network.")
    assert _problems(page) == []  # the comparison: axe, readable controls, no overflow at this width
    page.locator(f'input[name="f_name"][value="{b_id}"]').check()
    page.locator(f'input[name="f_description"][value="{a_id}"]').check()
    page.get_by_role("button", name="Merge").click()

    expect(page).to_have_url(re.compile(rf"/admin/organisations/{a_id}\?notice=merged$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Riverside Voices Network")
    expect(page.get_by_text("https://riverside.example.org").first).to_be_visible()  # empty here, filled from there

    page.get_by_role("link", name=re.compile("Merges into this record")).click()
    page.get_by_role("link", name=re.compile(r"^Merge \d+$")).first.click()
    expect(page.get_by_role("table")).to_contain_text("A network.")  # the dropped record's values, kept
    assert _problems(page) == []
    page.get_by_role("button", name="Undo this merge").click()
    expect(page.get_by_role("status")).to_have_text("The merge was undone.")
    expect(page.get_by_text("Everything the merge changed was put back.")).to_be_visible()

    page.goto(f"/admin/organisations/{b_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Riverside Voices Network")
    page.goto(f"/admin/organisations/{a_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Riverside Voices")
    expect(page.get_by_role("heading", level=1)).not_to_contain_text("Network")
    assert page.console.errors == []


def _problems(page) -> list[str]:
    return serious_violations(page) + unreadable_controls(page) + horizontal_overflow(page)
