"""Overdue tasks join the weekly partnership nudge: named, with their record, owner and due date."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from crm import models as m
from crm.mailing.render import EmailRenderer
from crm.partnerships import nudges
from tests import factories
from tests.timeline.helpers import fellow

NOW = dt.datetime(2026, 11, 23, 8, 30, tzinfo=dt.UTC)  # a Monday


def _nudges(db):
    return list(db.scalars(select(m.OutboxMessage).where(m.OutboxMessage.kind == "partnership_nudge")))


def test_the_nudge_lists_overdue_tasks_alone_and_leaves_out_done_and_future_ones(db, settings):
    user = fellow(db, name="Sam Fellow")
    org = factories.organisation(db, "Mind in Camden")
    person = factories.contact(db, "Jo Bloggs", "jo@example.org", organisation=org)
    db.add_all(
        [
            m.TimelineTask(
                contact_id=person.id, title="Send the consent form", due_date=dt.date(2026, 11, 20), owner_id=user.id
            ),
            m.TimelineTask(
                organisation_id=org.id, title="Book the room", due_date=dt.date(2026, 11, 1), owner_id=user.id
            ),
            m.TimelineTask(
                contact_id=person.id, title="Already done", due_date=dt.date(2026, 11, 1), owner_id=user.id, done_at=NOW
            ),
            m.TimelineTask(contact_id=person.id, title="Due today", due_date=dt.date(2026, 11, 23), owner_id=user.id),
        ]
    )
    db.commit()
    assert nudges.send_weekly_nudge(db, EmailRenderer(settings), settings, now=NOW) == 1
    [mail] = _nudges(db)
    text = mail.text_body
    assert "Overdue tasks:" in text
    assert text.index("Book the room (Mind in Camden), due 1 November 2026, owner: Sam Fellow") < text.index(
        "Send the consent form (Jo Bloggs), due 20 November 2026, owner: Sam Fellow"
    )
    assert f"/admin/contacts/{person.id}/timeline" in text and f"/admin/organisations/{org.id}/timeline" in text
    assert "Already done" not in text and "Due today" not in text
    assert "Overdue tasks" in mail.html_body and "Book the room" in mail.html_body
    assert "2 overdue tasks" in mail.subject


def test_no_overdue_task_no_section(db, settings):
    user = fellow(db)
    person = factories.contact(db, "Jo Bloggs", "jo@example.org")
    db.add(m.TimelineTask(contact_id=person.id, title="Later", due_date=dt.date(2026, 12, 1), owner_id=user.id))
    db.commit()
    assert nudges.send_weekly_nudge(db, EmailRenderer(settings), settings, now=NOW) == 0
