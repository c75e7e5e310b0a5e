"""A public form that answers on its own page, far below the top, brings the browser to that answer.

Requesting a place at an event and registering interest in an internship are forms at the foot of a long page.
Their answer (the "There is a problem" box, or the event's thank-you) is rendered beside the form again, so on a
phone it was a screen or two below the fold: the page reloaded at its top, showing the event's details as before,
and a person could not tell whether anything had happened (some would send it again, some would give up). The
form's address now ends in the answer's heading (``#request-h``, ``#interest-h``, as the involvement page already
does), so the browser scrolls to it. Both databases.
"""

from __future__ import annotations

import datetime as dt
import html
import re

from tests import factories
from tests.conftest import post_form
from tests.events import factories as event_factories
from tests.internships.helpers import make_internship


def _form_action(page: str, path: str) -> str:
    """The action of the form on ``page`` that posts to ``path`` (with whatever fragment it carries)."""
    actions = [html.unescape(a) for a in re.findall(r'<form[^>]*action="([^"]+)"', page)]
    matching = [a for a in actions if a.split("#", 1)[0] == path]
    assert matching, f"no form posts to {path}: {actions}"
    return matching[0]


def _lands_on(answer_page: str, action: str, answer_marker: str) -> None:
    """The action's fragment names an element of the answer page that sits just above the answer: nothing but the
    answer's own section lies between them, so the browser shows the answer when it scrolls there."""
    assert "#" in action, f"{action} has no fragment: the answer page opens at its top, far above the answer"
    fragment = action.split("#", 1)[1]
    anchor = answer_page.find(f'id="{fragment}"')
    answer = answer_page.find(answer_marker)
    assert anchor != -1, f"the answer page has no element with id {fragment!r}"
    assert answer != -1, f"the answer page does not show {answer_marker!r}"
    between = answer_page[anchor:answer]
    assert anchor < answer and "<section" not in between and "<form" not in between


def test_a_refused_request_for_a_place_lands_on_the_problem_and_a_sent_one_on_the_thanks(app, db, client):
    event = event_factories.event(db, app, now=dt.datetime.now(dt.UTC), allow_requests=True, capacity=5)
    db.commit()
    page = client.get(f"/events/{event.slug}")
    action = _form_action(page.text, f"/events/{event.slug}/request")

    refused = post_form(client, action.split("#", 1)[0], {"name": "", "email": "not an email"})
    assert refused.status_code == 422
    _lands_on(refused.text, action, 'class="error-summary"')

    sent = post_form(client, action.split("#", 1)[0], {"name": "Cy Example", "email": "cy@example.org"})
    assert sent.status_code == 200
    _lands_on(sent.text, action, "Your request has been sent")


def test_a_refused_registration_of_interest_in_an_internship_lands_on_the_problem(db, client):
    internship = make_internship(db, factories.organisation(db, "Host Org"), title="Landing test")
    db.commit()
    page = client.get(f"/internships/{internship.slug}")
    action = _form_action(page.text, f"/internships/{internship.slug}/interest")

    refused = post_form(client, action.split("#", 1)[0], {"name": "Ada Example", "email": "ada@example.org"})
    assert refused.status_code == 422
    assert "Ada Example" in refused.text  # what was typed is still there
    _lands_on(refused.text, action, 'class="error-summary"')
