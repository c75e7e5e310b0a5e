"""An invitee who follows "Yes" (or "Maybe", "No") in the invitation email is told that it is not saved yet.

Opening the link never records an answer (mail scanners open links too), so the page ticked the answer from the
link and waited for "Save my answer". But it only said "Your answer now: not answered yet" beside a ticked "Yes":
a person who expected the click in the email to be their answer closed the page, and the organiser never heard.
The page now says which answer came from the email and that it still has to be saved. Both databases.
"""

from __future__ import annotations

import datetime as dt
import html

from crm.events.mail import rsvp_token
from tests import factories
from tests.conftest import post_form
from tests.events import factories as event_factories

NOT_SAVED = "It is not saved yet: press “Save my answer” below to send it."


def _invited(app, db) -> str:
    event = event_factories.event(db, app, now=dt.datetime.now(dt.UTC))
    contact = factories.contact(db, "Ada Example")
    event_factories.invite(db, event, contact)
    db.commit()
    return rsvp_token(app.state.signer, event.id, contact.id)


def test_the_answer_from_the_email_is_named_and_said_to_be_unsaved_until_saved(app, db, client):
    token = _invited(app, db)
    page = html.unescape(client.get(f"/rsvp/{token}?answer=yes").text)
    assert "You chose “Yes, I'll come” in the email. " + NOT_SAVED in page
    maybe = html.unescape(client.get(f"/rsvp/{token}?answer=maybe").text)
    assert "You chose “Maybe” in the email." in maybe

    saved = post_form(client, f"/rsvp/{token}", {"answer": "yes"})
    assert saved.status_code == 200
    assert NOT_SAVED not in html.unescape(saved.text)
    # The same link again, once that answer is saved: nothing is waiting to be saved.
    assert NOT_SAVED not in html.unescape(client.get(f"/rsvp/{token}?answer=yes").text)
    # A different answer from the email is waiting again.
    assert "You chose “No, I can't come” in the email." in html.unescape(client.get(f"/rsvp/{token}?answer=no").text)
    # A link without an answer, or with a strange one, has nothing waiting.
    for url in (f"/rsvp/{token}", f"/rsvp/{token}?answer=zzz"):
        page = client.get(url)
        assert page.status_code == 200 and NOT_SAVED not in html.unescape(page.text)
