"""Every link in a public form's "There is a problem" box takes keyboard focus to the question it names, and the
consent question's message is tied to its tick box.

The links to questions asked with a group of tick boxes or radio buttons (consent on "Get updates" and on joining
the lived experience network, who offers an internship, what kind of organisation offers an involvement
opportunity) pointed at a ``<fieldset>`` that could not take focus: the page scrolled, but focus stayed on the
link, so a keyboard or screen reader user was not taken to the question. The groups now take focus
(``tabindex="-1"``). And the consent message sat beside the tick box without being tied to it: tabbing to the box
did not say what was wrong; now the box is described by the message and marked invalid. Both databases.
"""

from __future__ import annotations

import html
import re

import pytest

from tests.conftest import post_form

FORMS = [
    ("/subscribe", {"email": "sam@example.org", "mailings": "funding_digest"}),
    ("/involvement/network", {"name": "Sam", "email": "sam@example.org"}),
    ("/internships/offer", {"organisation_name": "Riverside Voices"}),
    ("/involvement/offer", {"organisation_name": "Riverside Voices"}),
]
FOCUSABLE = re.compile(r"^<(input|select|textarea|button)\b|\btabindex=\"-1\"")


@pytest.mark.parametrize(("path", "data"), FORMS, ids=[p for p, _ in FORMS])
def test_each_problem_link_lands_on_something_that_takes_focus(client, path, data):
    page = post_form(client, path, data)
    assert page.status_code in (400, 422)
    summary = re.search(r'<div class="error-summary".*?</div>', page.text, re.S)
    assert summary, "no error summary"
    targets = re.findall(r'href="#([^"]+)"', summary.group(0))
    assert targets
    for target in targets:
        element = re.search(rf'<[a-z]+\b[^>]*\bid="{re.escape(target)}"[^>]*>', page.text)
        assert element, f"{path}: the summary links to #{target}, which is not on the page"
        assert FOCUSABLE.search(element.group(0)), f"{path}: #{target} cannot take focus: {element.group(0)}"


@pytest.mark.parametrize("path", ["/subscribe", "/involvement/network"])
def test_the_consent_box_is_described_by_its_message(client, path):
    data = dict(FORMS)[path]
    page = html.unescape(post_form(client, path, data).text)
    box = re.search(r'<input type="checkbox" id="f-consent-box"[^>]*>', page)
    assert box and 'aria-invalid="true"' in box.group(0)
    described = re.search(r'aria-describedby="([^"]+)"', box.group(0))
    assert described, "the consent box is not described by its message"
    message = re.search(rf'<p class="error" id="{described.group(1)}">(.*?)</p>', page, re.S)
    assert message and "tick the box" in message.group(1).lower()
