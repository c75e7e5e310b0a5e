"""The internship list's alert link promises only what an alert can do. An alert keeps the filters (topic, region,
direction, mode, pay, hours, stage) but no search words and no closing date, so with either in use the link no
longer says "Get alerts for this search": it names what the alert covers and says what it leaves out."""

from __future__ import annotations

import html
import re

ALERT = re.compile(r'<p class="internship-tools"><a href="(/subscribe\?[^"]+)">([^<]+)</a>([^<]*)')


def alert_link(client, query: str, **headers: str) -> tuple[str, str, str]:
    """The link's address, its words and what follows it before the feed link."""
    page = client.get(f"/internships?{query}", headers=headers)
    assert page.status_code == 200
    found = ALERT.search(page.text)
    href, words, after = (html.unescape(part) for part in found.groups())
    return href, words, after.replace(" · ", "").strip()


def test_search_words_are_not_promised_in_the_alert(client, db):
    href, words, after = alert_link(client, "q=research&paid=paid")
    assert words == "Get alerts for new internships with these filters"
    assert after == "(Alerts cannot match the words you searched for.)"
    assert "paid=paid" in href and "research" not in href
    href, words, after = alert_link(client, "paid=paid&mode=remote")  # filters an alert keeps: "this search"
    assert (words, after) == ("Get alerts for this search", "")
    assert "paid=paid" in href and "mode=remote" in href


def test_words_alone_offer_every_new_internship(client, db):
    _, words, after = alert_link(client, "q=research", **{"HX-Request": "true"})  # the htmx fragment says the same
    assert words == "Get alerts for every new internship"
    assert after == "(Alerts cannot match the words you searched for.)"


def test_a_closing_date_is_named_as_left_out_too(client, db):
    _, words, after = alert_link(client, "q=peer&closing_within=4&mode=remote")
    assert words == "Get alerts for new internships with these filters"
    assert after == "(Alerts cannot match the words you searched for or the closing date.)"


def test_no_results_offers_the_alert_in_the_same_honest_words(client, db):
    page = client.get("/internships?q=zzzznothingmatches")
    text = html.unescape(re.sub(r"<[^>]+>", "", page.text))
    assert (
        "No open internships match these filters. Try fewer filters, or get an email when one is posted. "
        "Alerts cannot match the words you searched for." in " ".join(text.split())
    )
