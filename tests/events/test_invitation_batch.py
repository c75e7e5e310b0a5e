"""The batched invitation path (one calendar per send, batched inserts) queues exactly what the one-at-a-time
path queues: the same subjects, bodies, headers, calendars and suppressions, byte for byte."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from crm import models as m
from crm.calendar import LINE_OCTETS, CalendarEvent, address_property, calendar_text
from crm.events import sending
from crm.events.lifecycle import host_name
from crm.events.mail import Recipient, queue_cancellation, queue_invitation
from crm.mailing import consent, subscriptions
from tests import factories
from tests.events import factories as f
from tests.events.factories import NOW

COLUMNS = (
    "idempotency_key",
    "kind",
    "bulk",
    "recipient",
    "recipient_name",
    "subject",
    "text_body",
    "html_body",
    "headers",
    "attachments",
    "template",
    "status",
    "last_error",
    "contact_id",
    "mailing",
)
NAMES = [
    "Zoë Ñúñez-Éxample, a long name that makes the ATTENDEE line fold inside multibyte characters ©®",
    'Sam "Quoted" Person; Lee: Jordan ^caret^',
    "Ada Example",
    "Withdrawn Person",
]


def queued(db) -> list[tuple]:
    table = m.OutboxMessage.__table__
    cols = [table.c[name] for name in COLUMNS]
    return [tuple(r) for r in db.execute(select(*cols).order_by(table.c.idempotency_key))]


@pytest.fixture
def frozen_tokens(monkeypatch):
    """Signed links carry the signing second; pin it so both paths sign the same tokens."""
    monkeypatch.setattr("itsdangerous.timed.TimestampSigner.get_timestamp", lambda self: 1_780_000_000)


def setup_invitees(db, app):
    e = f.event(db, app, title="Networking, London — “autumn” round; bring a friend, and questions " * 2)
    e.online_url = "https://meet.example.org/roundtable-autumn-with-a-rather-long-path/and/more"
    invitations = []
    for name in NAMES:
        c = factories.contact(db, name=name)
        invitations.append((f.invite(db, e, c), c))
    invitations[2][0].status = m.InvitationStatus.YES
    withdrawn = invitations[3][1]
    db.add(m.Subscription(email=withdrawn.email, contact_id=withdrawn.id, mailings=["funding_digest", "event_news"]))
    db.flush()
    subscriptions.unsubscribe(db, withdrawn.email, "event_news", consent.How(mechanism="one-click header"))
    db.flush()
    people = [Recipient(inv.id, c.id, c.name, c.email, inv.status) for inv, c in invitations]
    return e, people


def test_batched_invitations_equal_one_at_a_time(app, db, frozen_tokens):
    e, people = setup_invitees(db, app)
    mailer = f.mailer(app)
    host = host_name(db, e)
    for r in people:
        queue_invitation(db, mailer, e, r, host, now=NOW)
    db.flush()
    one_by_one = queued(db)
    db.execute(delete(m.OutboxMessage))

    assert sending.queue_pending(db, mailer, NOW) == len(people)
    db.flush()
    batched = queued(db)

    assert len(batched) == len(people) and batched == one_by_one
    rows = {r[0]: dict(zip(COLUMNS, r, strict=True)) for r in batched}
    calendars = [row["attachments"][0]["content"] for row in rows.values()]
    assert all(len(line.encode()) <= LINE_OCTETS for text in calendars for line in text.split("\r\n"))
    assert sum("PARTSTAT=ACCEPTED" in text.replace("\r\n ", "") for text in calendars) == 1
    assert [row["status"] for row in rows.values()].count(m.OutboxStatus.SUPPRESSED) == 1
    # The calendar is the one a whole VEVENT written at once (organizer and attendee together) gives.
    first = people[0]
    organizer = mailer.organizer()
    whole = calendar_text(
        [
            CalendarEvent(
                uid=e.uid,
                summary=e.title,
                starts_at=e.starts_at,
                ends_at=e.ends_at,
                description=e.description,
                location=f"{e.venue}, {e.online_url}",
                url=f"{mailer.base_url}/events/{e.slug}",
                status="CONFIRMED",
                sequence=e.sequence,
                transparent=None,
                properties=(
                    address_property("ORGANIZER", organizer.email, [("CN", organizer.name)]),
                    address_property(
                        "ATTENDEE",
                        first.email,
                        [
                            ("CN", first.name),
                            ("CUTYPE", "INDIVIDUAL"),
                            ("ROLE", "REQ-PARTICIPANT"),
                            ("PARTSTAT", "NEEDS-ACTION"),
                            ("RSVP", "TRUE"),
                        ],
                    ),
                ),
            )
        ],
        method="REQUEST",
        now=NOW,
    )
    assert rows[f"invite:{e.id}:{first.contact_id}:{e.sequence}"]["attachments"][0]["content"] == whole
    # Nothing is queued twice on a second run.
    assert sending.queue_pending(db, mailer, NOW) == 0


def test_batched_cancellations_equal_one_at_a_time(app, db, frozen_tokens):
    e, people = setup_invitees(db, app)
    e.status = m.EventStatus.CANCELLED
    e.sequence += 1
    db.flush()
    mailer = f.mailer(app)
    host = host_name(db, e)
    for r in people:
        queue_cancellation(db, mailer, e, r, host, NOW)
    db.flush()
    one_by_one = queued(db)
    db.execute(delete(m.OutboxMessage))

    assert sending.queue_pending(db, mailer, NOW) == len(people)
    db.flush()
    batched = queued(db)

    assert len(batched) == len(people) and batched == one_by_one
    assert all("METHOD:CANCEL" in row[COLUMNS.index("attachments")][0]["content"] for row in batched)
