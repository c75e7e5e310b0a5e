"""The map in Chromium: /map and /admin/map with axe, readable controls, no sideways scrolling at 360px or 200%
zoom and a clean console (no CSP violation from an inline style); the SVG is named and described, the table says
the same with links, and the measure can be chosen with the keyboard alone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm import models as m
from tests.browser.a11y import horizontal_overflow, serious_violations, unreadable_controls

pytestmark = pytest.mark.browser


def _checks(page) -> list[str]:
    return serious_violations(page) + unreadable_controls(page) + horizontal_overflow(page) + page.console.errors


def test_the_public_map_reads_without_colour_mouse_or_sight(page, live):
    page.goto("/map")
    expect(page.get_by_role("heading", level=1)).to_have_text("Map of partners and opportunities")
    svg = page.locator('svg[role="img"]').first
    assert "by UK region" in svg.locator("title").text_content()
    assert "London:" in svg.locator("desc").text_content()
    table = page.get_by_role("table")
    expect(table.get_by_role("link", name="London")).to_have_attribute("href", "/organisations?region=london")
    problems = _checks(page)
    assert not problems, "\n".join(problems)

    page.get_by_label("Show").focus()
    page.get_by_label("Show").select_option("funding-calls")
    page.get_by_label("Shade by").select_option("count")
    page.get_by_role("button", name="Show on the map").press("Enter")
    expect(page.get_by_role("heading", level=2, name="Open funding calls")).to_be_visible()
    assert "measure=funding-calls" in page.url
    problems = _checks(page)
    assert not problems, "\n".join(problems)


def test_the_admin_map_and_gaps(page, live, signed_in):
    signed_in(m.Role.ADMIN)
    for url in ("/admin/map?measure=subscribers", "/admin/map/gaps?sort=most"):
        response = page.goto(url)
        assert response is not None and response.status == 200
        problems = _checks(page)
        assert not problems, f"{url}:\n" + "\n".join(problems)
