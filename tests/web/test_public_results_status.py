"""A public list tells a screen reader one line when its results change, not the whole list again.

The six public lists swap their results with htmx while a person types a search or changes a filter. The results
were a polite live region, so a screen reader read every card of the new list aloud (up to twenty, each several
lines) after each pause in typing. Now the page has one status line outside the results (``#results-status``,
``role="status"``, empty when the page opens) and the fragment htmx gets fills it out of band with the count, the
list's own empty message, or what is wrong with a filter. Both databases.
"""

from __future__ import annotations

import re

import pytest

from tests import factories

HTMX = {"HX-Request": "true"}

# path, what the status says when nothing matches (the list's own empty message, read without its link)
LISTS = [
    ("/organisations", "No organisations match. Try fewer filters or another word."),
    ("/funding-calls", "No open funding calls match these filters. Try fewer filters."),
    ("/internships", "No open internships match these filters. Try fewer filters, or get an email when one is posted."),
    ("/involvement", "No open opportunities match these filters."),
    ("/events", "No upcoming events match “zzqqxx”."),
    ("/news", "No news matches “zzqqxx”."),
]


def _status_update(fragment: str) -> str:
    """The text the fragment puts into the page's status line (out of band), or fail if it puts none."""
    found = re.search(r'<p id="results-status" hx-swap-oob="innerHTML">(.*?)</p>', fragment, re.S)
    assert found, "the results fragment does not update the status line"
    return " ".join(found.group(1).split())


@pytest.mark.parametrize(("path", "nothing"), LISTS, ids=[p for p, _ in LISTS])
def test_the_results_are_not_read_aloud_only_the_status_line(client, path, nothing):
    page = client.get(path).text
    results = re.search(r'<div id="results"([^>]*)>', page)
    assert results and "aria-live" not in results.group(1), "the whole list is a live region"
    assert re.search(r'<p id="results-status" class="visually-hidden" role="status"></p>', page)
    assert page.count('id="results-status"') == 1

    fragment = client.get(path, params={"q": "zzqqxx"}, headers=HTMX)
    assert fragment.status_code == 200
    assert 'aria-live="polite"' not in fragment.text
    assert _status_update(fragment.text).startswith(nothing)


def test_the_status_line_says_how_many_match(client, db):
    factories.organisation_via_form(db, "Riverside Voices", description="Peer support for people who hear voices")
    factories.organisation_via_form(db, "Hillside Peer Carers", description="Peer support for unpaid carers")
    db.commit()
    assert _status_update(client.get("/organisations", params={"q": "peer"}, headers=HTMX).text) == ("2 organisations")
    assert _status_update(client.get("/organisations", params={"q": "river"}, headers=HTMX).text) == ("1 organisation")


def test_the_status_line_says_when_a_filter_needs_checking(client):
    fragment = client.get("/funding-calls", params={"min_amount": "abc"}, headers=HTMX).text
    assert _status_update(fragment) == (
        "Check the filters: Amount at least: enter an amount in whole pounds, like 5000. “abc” is not an amount."
    )
