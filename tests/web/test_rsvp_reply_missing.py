"""A refused save on the RSVP page keeps what was typed and says what is missing in plain words.

Saving without choosing Yes, Maybe or No: the message read "Choose a answer." and sat in the question's group
without being tied to it, so a screen reader moving to the radio buttons did not hear it; now it reads "Choose a
reply.", starts with a hidden "Error:", and the group ("Can you come?") is described by it. And every refusal
threw away what the person had written: the page showed the saved note, choices and "what are you looking for"
again instead of what was sent (a note about access needs, typed on a phone, gone). Nothing is recorded.
Both databases.
"""

from __future__ import annotations

import datetime as dt
import html
import re

from sqlalchemy import func, select

from crm import models as m
from crm.events.mail import rsvp_token
from tests import factories
from tests.conftest import post_form
from tests.events import factories as event_factories


def test_saving_without_a_reply_asks_for_one_in_plain_words_tied_to_the_question(app, db, client):
    event = event_factories.event(db, app, now=dt.datetime.now(dt.UTC))
    contact = factories.contact(db, "Ada Example")
    event_factories.invite(db, event, contact)
    db.commit()
    token = rsvp_token(app.state.signer, event.id, contact.id)

    page = post_form(client, f"/rsvp/{token}", {"note": "Step-free access please"})
    assert page.status_code == 422
    text = html.unescape(page.text)
    assert "Choose a answer" not in text
    error = re.search(r'<p class="error" id="f-answer-error">(.*?)</p>', text, re.S)
    assert error and " ".join(re.sub(r"<[^>]+>", " ", error.group(1)).split()) == "Error: Choose a reply."
    fieldset = re.search(r"<fieldset([^>]*)>\s*<legend>Can you come\?</legend>", text)
    assert fieldset and 'aria-describedby="f-answer-error"' in fieldset.group(1)
    assert "Step-free access please" in text  # the note is kept
    assert db.scalar(select(func.count()).select_from(m.RsvpResponse)) == 0

    # Another refusal (a line break in "what are you looking for"): the chosen reply and the ticks stay too.
    page = post_form(
        client,
        f"/rsvp/{token}",
        {"answer": "maybe", "note": "Hearing loop", "share_with_attendees": "on", "looking_for": "a\nb"},
    )
    assert page.status_code == 422
    text = html.unescape(page.text)
    assert 'value="maybe" checked' in text and "Hearing loop" in text
    assert 'name="share_with_attendees" value="on" checked' in text
    assert 'name="wants_introductions" value="on" checked' not in text
    looking = re.search(r'<input id="f-looking-for"[^>]*>', text)
    assert looking and 'aria-invalid="true"' in looking.group(0) and "f-looking-for-error" in looking.group(0)
    assert db.scalar(select(func.count()).select_from(m.RsvpResponse)) == 0
