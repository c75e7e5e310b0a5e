"""Public pages say only what is true for the reader, in the product's own name.

* A full event that takes no requests said "full: new requests join the waitlist", inviting a request the page
  then offered no way to make (it is by invitation only); it now says "full", and the waitlist words stay where
  requests are open.
* "Add your group" and "Offer an internship" spoke of "the roundtable's fellow"; everywhere else it is "the
  Roundtable fellow" (the name of the service, not a round table). Both databases.
"""

from __future__ import annotations

import datetime as dt
import html

from crm import models as m
from tests import factories
from tests.events import factories as event_factories

WAITLIST_WORDS = "new requests join the waitlist"


def _full_event(app, db, *, allow_requests: bool) -> m.Event:
    event = event_factories.event(
        db, app, now=dt.datetime.now(dt.UTC), capacity=1, allow_requests=allow_requests, title=f"Full {allow_requests}"
    )
    invitation = event_factories.invite(db, event, factories.contact(db, f"Guest {allow_requests}"))
    invitation.status = m.InvitationStatus.YES
    db.commit()
    return event


def test_a_full_event_by_invitation_only_does_not_mention_requests(app, db, client):
    closed = html.unescape(client.get(f"/events/{_full_event(app, db, allow_requests=False).slug}").text)
    assert "<dt>Places</dt><dd>1 (full)</dd>" in closed and WAITLIST_WORDS not in closed
    open_ = html.unescape(client.get(f"/events/{_full_event(app, db, allow_requests=True).slug}").text)
    assert f"(full: {WAITLIST_WORDS})" in open_


def test_the_fellow_is_the_roundtable_fellow(client):
    for path in ("/add-your-group", "/internships/offer"):
        page = client.get(path).text
        assert "The Roundtable fellow checks every" in page and "roundtable's" not in page
