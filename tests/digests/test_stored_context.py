"""What a digest's outbox row stores of its context (issue 15.2 budget, 15.5 CPU): not the subscriber's name (the
row's ``recipient_name`` holds it) nor the frequency (the period key names it); rows stored before, with both,
still render as they did."""

from __future__ import annotations

from sqlalchemy import update

from crm import models as m
from crm.db import create_session_factory
from crm.digests import engine, periods, render
from tests import factories
from tests.digests import helpers as h

PERIOD = periods.parse(h.WEEK)


def _queued(db, settings):
    ts = h.topics(db)
    h.subscription(db, "stored-context@example.org", topic_ids=(ts[0].id,), name="Quinn Marlow")
    h.call(db, factories.funder(db), "Stored context call", topic_ids=(ts[0].id,))
    db.commit()
    engine.run_period(create_session_factory(db.get_bind()), settings, PERIOD, now=h.NOW)
    (row,) = h.digest_rows(db)
    return row


def _render(db, settings, row):
    (result,) = render.render_claimed(db, [row], settings, h.NOW).values()
    return result[0]


def test_the_stored_context_leaves_out_the_name_and_frequency_and_the_digest_still_names_both(db, settings):
    row = _queued(db, settings)
    assert "name" not in row.context and "frequency" not in row.context
    assert row.recipient_name == "Quinn Marlow"
    email = _render(db, settings, row)
    assert "Quinn Marlow" in email.text and "Quinn Marlow" in email.html
    assert "weekly" in email.subject.lower() and "Stored context call" in email.text


def test_a_row_stored_with_its_name_and_frequency_renders_them(db, settings):
    row = _queued(db, settings)
    old = {**row.context, "name": "Stored Name", "frequency": "weekly"}
    db.execute(update(m.OutboxMessage).where(m.OutboxMessage.id == row.id).values(context=old))
    db.commit()
    db.refresh(row)
    email = _render(db, settings, row)
    assert "Stored Name" in email.text and "Quinn Marlow" not in email.text


def test_the_frequency_follows_from_the_period_key():
    assert periods.frequency_of("2026-W48") == periods.parse("2026-W48").frequency == "weekly"
    assert periods.frequency_of("2026-12") == periods.parse("2026-12").frequency == "monthly"
