"""The public events list: upcoming published events only, in order, page by page with a count; without a search its
statement is built once and bound per request (``shape``), the clock a bound parameter."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import update

from crm import models as m
from crm.events import listing
from tests.events import factories as f

NO_STORE = {"Cache-Control": "no-cache"}  # past the stored public answers: every request runs the handler


def titles(html: str) -> list[str]:
    return re.findall(r'<h2><a href="/events/[^"]+">([^<]+)</a></h2>', html)


def test_upcoming_events_in_order_page_by_page_with_a_statement_built_once(
    app: Any, db: Any, client: Any, count_queries: Any, monkeypatch: Any
) -> None:
    now = dt.datetime.now(dt.UTC)
    for i in range(25):
        f.event(db, app, now=now, days=i + 1, title=f"Upcoming {i:02d}")
    f.event(db, app, now=now, days=3, title="Still a draft", publish=False)
    ended, running = f.event(db, app, now=now, title="Ended an hour ago"), f.event(db, app, now=now, title="On now")
    for event, start in ((ended, now - dt.timedelta(hours=3)), (running, now - dt.timedelta(hours=1))):
        db.execute(
            update(m.Event).where(m.Event.id == event.id).values(starts_at=start, ends_at=start + dt.timedelta(hours=2))
        )
    db.commit()
    built: list[int] = []
    published = listing._published
    monkeypatch.setattr(listing, "_published", lambda: built.append(1) or published())

    seen, url, statements = [], "/events?page_size=10", []
    while url:
        with count_queries() as q:
            page = client.get(url, headers=NO_STORE)
        assert page.status_code == 200 and "26 events" in page.text
        statements.append(q.count)
        seen += titles(page.text)
        found = re.search(r'<a rel="next" href="(/events\?[^"]+)"', page.text)
        url = found.group(1).replace("&amp;", "&") if found else ""
    assert seen == ["On now", *(f"Upcoming {i:02d}" for i in range(25))]
    assert statements == [2, 1, 1]  # the page and its capped count, kept for the later pages (crm.httpcache.kept)
    assert titles(client.get("/events?sort=latest", headers=NO_STORE).text)[:2] == ["Upcoming 24", "Upcoming 23"]
    assert len(built) <= 3  # first pages soonest and latest, later pages soonest: each built at most once
    before = len(built)
    for url in ("/events?page_size=10", "/events?sort=latest", "/events"):
        assert client.get(url, headers=NO_STORE).status_code == 200
    assert len(built) == before  # built once per shape: the same lists again build nothing
    searched = client.get("/events?q=upcoming%200", headers=NO_STORE).text  # a search is built per request
    assert titles(searched) == [f"Upcoming {i:02d}" for i in range(10)] and "10 events" in searched


def test_an_empty_list_says_so(client: Any, db: Any) -> None:
    page = client.get("/events", headers=NO_STORE)
    assert page.status_code == 200 and "No upcoming events" in page.text and 'href="/subscribe"' in page.text
