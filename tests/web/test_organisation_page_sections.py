"""An organisation's public page lists the upcoming events it hosts under "Upcoming events".

The events section's template read ``events`` and ``when`` as if they were the page's own variables, but the page
hands every section its data as ``section.context`` (the funding and internship sections read it there), so the
heading "Upcoming events" stood over an empty list on the page of every organisation hosting an event. Both
databases.
"""

from __future__ import annotations

import datetime as dt
import html
import re

from crm.events.mail import when_text
from tests import factories
from tests.events import factories as event_factories


def test_the_hosts_page_lists_its_upcoming_events(app, db, client):
    host = factories.organisation(db, "Northbridge Research Unit")
    event = event_factories.event(
        db, app, now=dt.datetime.now(dt.UTC), title="Co-production workshop", host_organisation_id=host.id
    )
    db.commit()
    page = html.unescape(client.get(f"/organisations/{host.slug}").text)
    section = re.search(r"<h2>Upcoming events</h2>(.*?)</section>", page, re.S)
    assert section, "no events section on the host's page"
    items = re.findall(r"<li>(.*?)</li>", section.group(1), re.S)
    assert items == [f'<a href="/events/{event.slug}">Co-production workshop</a> — {when_text(event)}']
