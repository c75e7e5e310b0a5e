"""Journey: a member of the public searches the directory and opens an organisation (with and without htmx:
the search form works as a plain GET, htmx only swaps the results). The page shows no contact's details."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm import models as m

pytestmark = pytest.mark.browser


def test_public_searches_the_directory_and_opens_an_organisation(page, live):
    slug = live.data.values.get("organisation_slug")
    if slug is None:
        pytest.skip("no public organisation in the demo data yet")
    with live.session() as s:
        name = s.scalar(select(m.Organisation.name).where(m.Organisation.slug == slug))
        contact_emails = [e for e in s.scalars(select(m.Contact.email)) if e]
    word = max(re.findall(r"[A-Za-z]{4,}", name), key=len)

    response = page.goto("/organisations")
    if response is None or response.status == 404:
        pytest.skip("the public directory is not built yet")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    search = page.get_by_role("searchbox", name="Search")
    search.fill(word)
    search.press("Enter")
    expect(page).to_have_url(re.compile(rf"q={word}"))
    link = page.get_by_role("link", name=name, exact=True)
    expect(link).to_be_visible()
    link.click()

    expect(page).to_have_url(f"{live.url}/organisations/{slug}")
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    html = page.content()
    leaked = [e for e in contact_emails if e in html]
    assert not leaked, f"the public organisation page shows contacts' email addresses: {leaked}"
    assert page.console.errors == []
