"""The RSVP page says what the event is before asking: description, host, place with a map, access information,
and ways to put it in a calendar (issue 20.3)."""

from __future__ import annotations

import datetime as dt
import html
from urllib.parse import parse_qs, urlsplit

from crm import models as m
from crm.events.calendar_links import links_for, map_link
from crm.events.mail import rsvp_token
from tests import factories
from tests.conftest import post_form
from tests.events import factories as f


def _invited(app, db, **values):
    host = factories.organisation(db, "Calm Waters Peer Support")
    e = f.event(
        db,
        app,
        now=dt.datetime.now(dt.UTC),
        host_organisation_id=host.id,
        accessibility="Step-free access from the street.\n\nA quiet room is available all day.",
        online_url="https://meet.example.org/roundtable",
        **values,
    )
    c = factories.contact(db, email="ada@example.org")
    f.invite(db, e, c)
    db.commit()
    return e, rsvp_token(app.state.signer, e.id, c.id)


def test_the_rsvp_page_says_what_the_event_is(app, db, client):
    e, token = _invited(app, db)
    page = html.unescape(client.get(f"/rsvp/{token}").text)
    assert "Meet researchers and charities." in page  # the description
    assert "<dt>Host</dt><dd>Calm Waters Peer Support</dd>" in page
    assert 'href="https://www.openstreetmap.org/search?query=Friends+Room%2C+1+Example+Street"' in page
    assert '<h2 id="access-h">Access</h2>' in page and "A quiet room is available all day." in page
    assert "https://calendar.google.com/calendar/render?action=TEMPLATE" in page
    assert "https://outlook.live.com/calendar/0/deeplink/compose?" in page
    assert f"/rsvp/{token}/invite.ics" in page
    # The joining link is for people with a place only.
    assert "meet.example.org" not in page
    done = html.unescape(post_form(client, f"/rsvp/{token}", {"answer": "yes"}).text)
    assert 'href="https://meet.example.org/roundtable"' in done
    public = html.unescape(client.get(f"/events/{e.slug}").text)
    assert "Step-free access from the street." in public


def test_calendar_links_carry_the_event_in_utc_or_as_whole_days(app, db):
    e = f.event(db, app, title="Winter meet-up")
    links = links_for(e, event_url="https://crm.example.org/events/winter", location="Friends Room")
    google = parse_qs(urlsplit(links.google).query)
    start, end = (e.starts_at.astimezone(dt.UTC), e.ends_at.astimezone(dt.UTC))
    assert google["text"] == ["Winter meet-up"] and google["location"] == ["Friends Room"]
    assert google["dates"] == [f"{start:%Y%m%dT%H%M%SZ}/{end:%Y%m%dT%H%M%SZ}"]
    assert google["details"][0].endswith("https://crm.example.org/events/winter")
    outlook = parse_qs(urlsplit(links.outlook).query)
    assert outlook["subject"] == ["Winter meet-up"] and outlook["startdt"][0].endswith("Z")
    all_day = f.event(db, app, title="Summit", all_day=True)
    day = parse_qs(urlsplit(links_for(all_day, event_url="u", location="").google).query)["dates"][0]
    assert len(day) == len("20260601/20260602")
    assert map_link("1 Example Street, Leeds") == "https://www.openstreetmap.org/search?query=1+Example+Street%2C+Leeds"


def test_the_event_form_and_api_keep_access_information(app, db, admin_client):
    e = f.event(db, app, now=dt.datetime.now(dt.UTC))
    db.commit()
    edit = admin_client.get(f"/admin/events/{e.id}/edit").text
    assert 'name="accessibility"' in edit and "Access information" in edit
    assert db.get(m.Event, e.id).accessibility == ""
