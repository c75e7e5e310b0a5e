"""Every page in ``pages.py`` (and every parameterless page of the route table): axe-core finds no serious
or critical violation, every visible button and link's text stands out from what is behind it, the page does not scroll sideways on a 360px screen or at 200% zoom, and the browser
console shows no error (a CSP violation from an inline script or style lands there). Keyboard: the skip link
comes first and moves focus to the main content; forms submit with Enter."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from crm import models as m
from crm.app import create_app
from crm.settings import Settings
from tests.browser.a11y import horizontal_overflow, serious_violations, unreadable_controls
from tests.browser.pages import PAGES, Page, discovered_pages
from tests.conftest import TEST_SECRET

pytestmark = pytest.mark.browser

_route_table_app = create_app(Settings(env="test", database_url="sqlite://", secret_keys=(TEST_SECRET,)))
ALL_PAGES = PAGES + discovered_pages(_route_table_app)
del _route_table_app


@pytest.mark.parametrize("spec", ALL_PAGES, ids=lambda p: p.id)
def test_page_is_accessible(spec: Page, page, live, signed_in):
    url = live.data.fill(spec.url)
    if url is None:
        pytest.skip(f"no seeded record fills {spec.url} yet (its domain's demo data has not landed)")
    if spec.role is not None:
        signed_in(spec.role)
    response = page.goto(url)
    assert response is not None
    if response.status == 404 and spec.status == 0:
        pytest.skip(f"{url} answers 404 without the query a real visit carries (discovered, not listed)")
    if "text/html" not in response.headers.get("content-type", ""):
        pytest.skip(f"{url} is not an HTML page ({response.headers.get('content-type')})")
    problems: list[str] = []
    if spec.status and response.status != spec.status:
        problems.append(f"answered {response.status}, expected {spec.status}")
    if response.status >= 500:
        problems.append(f"answered {response.status}")
    if spec.role is not None and "/sign-in" in page.url:
        problems.append(f"sent to sign-in as {spec.role.value}")
    problems += serious_violations(page)
    problems += unreadable_controls(page)
    problems += horizontal_overflow(page)
    problems += [f"console: {e}" for e in page.console.errors]
    assert not problems, f"{spec.id} ({page.url}):\n  " + "\n  ".join(problems)


# Pages whose main content has a control, so the Tab after the skip link must land inside main.
@pytest.mark.parametrize("url,role", [("/sign-in", None), ("/admin/mail", m.Role.ADMIN)])
def test_skip_link_is_the_first_tab_stop_and_moves_focus_to_main(page, signed_in, url, role):
    if role is not None:
        signed_in(role)
    page.goto(url)
    page.keyboard.press("Tab")
    focused = page.evaluate("() => [document.activeElement.className, document.activeElement.textContent.trim()]")
    assert focused == ["skip-link", "Skip to main content"]
    expect(page.locator(".skip-link")).to_be_visible()  # it appears when focused
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    # The next Tab continues inside the main content, not from the header again.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.getElementById('main').contains(document.activeElement)")


def test_sign_in_form_works_by_keyboard_alone(page, live):
    page.goto("/sign-in")
    # Tab from the top until the email field has focus, type, submit with Enter: no mouse anywhere.
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "f-email":
            break
    else:
        pytest.fail("the email field cannot be reached with Tab")
    page.keyboard.type(live.users[m.Role.VIEWER])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")


def test_form_errors_are_announced_and_linked(page):
    page.goto("/sign-in")
    page.get_by_label("Email address").fill("not an email")
    page.keyboard.press("Enter")
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    field = page.get_by_label("Email address")
    expect(field).to_have_attribute("aria-invalid", "true")
    described = field.get_attribute("aria-describedby") or ""
    assert re.search(r"\bf-email-error\b", described)
    assert serious_violations(page) == []
