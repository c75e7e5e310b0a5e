"""Stored script in text fields is shown as text, never run: each entity is created with a script payload in
its text fields through the services, and every HTML page (the route table's GET routes, as the fellow and
anonymously, with path values from those rows) must not contain the raw markup. The pages listed for each
entity must show the escaped text, so the test cannot pass by showing nothing. A new entity is one function
in ``ENTITIES``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from crm import models as m
from crm.accounts.services import create_session, ensure_user
from crm.web.auth import SESSION_COOKIE
from tests.security.routes import route_table_app, seeded_values, walk

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(2)>'
PAYLOAD = f"X{SCRIPT}{ATTRIBUTE}"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
RAW_MARKERS = (SCRIPT, "<img src=x onerror")

NOW = dt.datetime.now(dt.UTC)

# Each entity: create rows whose text fields hold PAYLOAD; return the pages that must show it (escaped) as
# (url, who) with who "admin" or "public".
Entity = Callable[[Any, Any, Any], list[tuple[str, str]]]


def user(db: Any, settings: Any, app: Any) -> list[tuple[str, str]]:
    u = ensure_user(db, "script-name@example.org", m.Role.ADMIN, name=PAYLOAD)
    db.flush()
    return [("/admin", f"session:{create_session(db, u, settings)}")]


def outbox_message(db: Any, settings: Any, app: Any) -> list[tuple[str, str]]:
    from crm.mailing.outbox import enqueue

    enqueue(
        db,
        app.state.renderer,
        key="xss-test",
        kind="sign_in",
        to="someone@example.org",
        to_name=PAYLOAD,
        template="sign_in",
        context={"link": "http://testserver.local/x", "minutes": 15, "name": PAYLOAD},
    )
    db.flush()
    message_id = db.scalar(select(m.OutboxMessage.id).where(m.OutboxMessage.idempotency_key == "xss-test"))
    return [(f"/admin/mail/{message_id}", "admin")]


def organisation(db: Any, settings: Any, app: Any) -> list[tuple[str, str]]:
    from crm.directory import organisations

    values, form = organisations.validate_organisation(
        db, {"name": PAYLOAD, "kind": m.OrgKind.VCSE.value, "description": PAYLOAD, "visibility": "public"}
    )
    assert form.ok, form.errors
    org = organisations.create_organisation(db, None, values)
    db.flush()
    return [
        ("/organisations", "public"),
        (f"/organisations/{org.slug}", "public"),
        ("/admin/organisations", "admin"),
        (f"/admin/organisations/{org.id}", "admin"),
    ]


def contact(db: Any, settings: Any, app: Any) -> list[tuple[str, str]]:
    from crm.directory import contacts

    values, form = contacts.validate_contact(db, {"name": PAYLOAD, "email": "script-contact@example.org"})
    assert form.ok, form.errors
    person = contacts.create_contact(db, None, values)
    db.flush()
    return [("/admin/contacts", "admin"), (f"/admin/contacts/{person.id}", "admin")]


def funding_call(db: Any, settings: Any, app: Any) -> list[tuple[str, str]]:
    from crm.funding import services as fs

    funder = db.scalar(select(m.Organisation.id).order_by(m.Organisation.id).limit(1))
    data = fs.CallInput(
        title=f"Call {PAYLOAD}",
        funder_id=funder,
        summary=PAYLOAD,
        eligibility=PAYLOAD,
        deadlines=[fs.DeadlineInput(PAYLOAD, NOW + dt.timedelta(days=30))],
    )
    call = fs.create_call(db, None, data, now=NOW, status=m.CallStatus.PUBLISHED, source="xss test")
    db.flush()
    return [
        ("/funding-calls", "public"),
        (f"/funding-calls/{call.slug}", "public"),
        (f"/admin/funding-calls/{call.id}", "admin"),
    ]


def event(db: Any, settings: Any, app: Any) -> list[tuple[str, str]]:
    from crm.events import lifecycle

    starts = NOW + dt.timedelta(days=20)
    values = {
        "title": f"Event {PAYLOAD}",
        "description": PAYLOAD,
        "starts_at": starts,
        "ends_at": starts + dt.timedelta(hours=2),
        "venue": PAYLOAD,
    }
    e = lifecycle.create_event(db, None, settings.base_url, values)
    lifecycle.publish_event(db, None, e, NOW)
    db.flush()
    return [("/events", "public"), (f"/events/{e.slug}", "public"), (f"/admin/events/{e.id}", "admin")]


def internship(db: Any, settings: Any, app: Any) -> list[tuple[str, str]]:
    host = db.scalar(select(m.Organisation.id).order_by(m.Organisation.id).limit(1))
    closing = (NOW + dt.timedelta(days=30)).date()
    row = m.Internship(
        title=f"Placement {PAYLOAD}",
        slug="placement-xss",
        host_organisation_id=host,
        direction=next(iter(m.InternshipDirection)),
        description=PAYLOAD,
        mode=next(iter(m.InternshipMode)),
        duration=PAYLOAD[:120],
        closing_date=closing,
        closes_at=NOW + dt.timedelta(days=30),
        status=m.InternshipStatus.PUBLISHED,
        published_at=NOW,
        host_contact_name=PAYLOAD,
        host_contact_email="host@example.org",
    )
    db.add(row)
    db.flush()
    return [
        ("/internships", "public"),
        ("/internships/placement-xss", "public"),
        (f"/admin/internships/{row.id}", "admin"),
    ]


# Order matters: later entities use the organisation created first.
ENTITIES: list[Entity] = [user, outbox_message, organisation, contact, funding_call, event, internship]
GET_ROUTES = [r for r in walk(route_table_app()) if r.method == "GET" and not r.path.startswith(("/schema", "/static"))]


def _fetch(client: Any, url: str, who: str) -> Any:
    client.cookies.clear()
    if who.startswith("session:"):
        client.cookies.set(SESSION_COOKIE, who.split(":", 1)[1])
    elif who == "admin":
        client.cookies.set(SESSION_COOKIE, client.admin_cookie)
    return client.get(url, follow_redirects=False)


@pytest.fixture
def stored(db, settings, app, client):
    pages: dict[str, list[tuple[str, str]]] = {}
    for entity in ENTITIES:
        pages[entity.__name__] = entity(db, settings, app)
    admin = ensure_user(db, "fellow-xss@example.org", m.Role.ADMIN, name="Fellow")
    client.admin_cookie = create_session(db, admin, settings)
    db.commit()
    return pages


def test_stored_script_is_escaped_where_it_is_shown(stored, client):
    wrong: list[str] = []
    for entity, pages in stored.items():
        for url, who in pages:
            response = _fetch(client, url, who)
            label = f"{entity}: GET {url} as {who.split(':')[0]} -> {response.status_code}"
            if response.status_code != 200:
                wrong.append(f"{label} (expected 200)")
            elif ESCAPED not in response.text:
                wrong.append(f"{label}: the escaped payload is not shown")
            if any(marker in response.text for marker in RAW_MARKERS):
                wrong.append(f"{label}: RAW MARKUP IN THE PAGE")
    assert not wrong, "\n".join(wrong)


def test_no_page_contains_the_raw_payload(stored, client, db):
    """Every GET route, as the fellow and anonymously, with path values from the rows holding the payload."""
    wrong: list[str] = []
    checked = 0
    for route in GET_ROUTES:
        url = route.url(seeded_values(db, route))
        for who in ("admin", "public"):
            response = _fetch(client, url, who)
            if "html" not in response.headers.get("content-type", ""):
                continue
            checked += 1
            if any(marker in response.text for marker in RAW_MARKERS):
                wrong.append(f"GET {url} as {who} ({route.handler})")
    assert checked > 10
    assert not wrong, "pages that contain the stored script unescaped:\n" + "\n".join(wrong)
