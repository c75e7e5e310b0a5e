"""/funding-calls/feed.xml: open calls as a valid Atom feed, newest first, linked from the list."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from tests.funding.test_routes import setup_calls

NS = {"a": "http://www.w3.org/2005/Atom"}


def test_the_feed_lists_open_calls_only_with_their_facts(client, db):
    setup_calls(db)
    response = client.get("/funding-calls/feed.xml")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    root = ET.fromstring(response.content)
    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
    assert root.find("a:link[@rel='self']", NS).get("href") == "http://testserver.local/funding-calls/feed.xml"
    entries = {e.find("a:title", NS).text: e for e in root.findall("a:entry", NS)}
    assert set(entries) == {"Soon closing awards — Northfield Trust", "Later research fund — Hillcrest Foundation"}
    soon = entries["Soon closing awards — Northfield Trust"]
    summary = soon.find("a:summary", NS).text
    assert "£10,000 to £50,000" in summary and "needs a VCSE partner" in summary and "next deadline" in summary
    assert soon.find("a:link", NS).get("href").startswith("http://testserver.local/funding-calls/soon-closing")


def test_the_list_page_links_to_its_feed(client, db):
    page = client.get("/funding-calls").text
    assert 'rel="alternate" type="application/atom+xml"' in page and 'href="/funding-calls/feed.xml"' in page
