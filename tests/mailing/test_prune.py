"""Pruning old mail detail (``crm.mailing.prune``): bodies go, the summary stays, exactly-once is kept."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, select

from crm import models as m
from crm.cli import main
from crm.db import create_session_factory
from crm.digests import engine, periods
from crm.digests.ledger import delivered, items_text, parse_items
from crm.digests.sections import SECTIONS
from crm.domains import EXTENSIONS
from crm.mailing import outbox, prune
from crm.mailing.dispatch import drain
from crm.mailing.jobs import JOBS
from crm.mailing.transports.base import SendOutcome, SendResult
from crm.models.outbox import pack_sent
from crm.privacy.subjects import export, find_subject
from crm.settings import Settings, SettingsError
from tests import factories
from tests.digests import helpers as h

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
OLD = NOW - dt.timedelta(days=500)
RECENT = NOW - dt.timedelta(days=30)
DAYS = 400
_seq = itertools.count(1)


def outbox_row(db, *, created_at=OLD, status=m.OutboxStatus.SENT, copy=True, **values) -> m.OutboxMessage:
    n = next(_seq)
    row = m.OutboxMessage(
        idempotency_key=f"prune-test:{n}",
        kind=values.pop("kind", "digest"),
        recipient=values.pop("recipient", f"reader{n}@example.org"),
        subject=f"Digest {n}",
        template="digest" if copy else None,
        context={"s": [n]} if copy else None,
        text_body=None if copy else "Hello in text",
        html_body=None if copy else "<p>Hello in HTML</p>",
        headers={} if copy else {"X-Test": "1"},
        sent_copy=pack_sent(f"Digest {n}", "text", "<p>html</p>", {"List-Id": "x"}) if copy else None,
        status=status,
        created_at=created_at,
        sent_at=created_at if status == m.OutboxStatus.SENT else None,
        provider_message_id=f"pm{n}",
        delivery_status="delivered",
        **values,
    )
    db.add(row)
    db.flush()
    return row


def factory_of(db):
    return create_session_factory(db.get_bind())


def test_old_final_rows_lose_their_text_and_keep_their_summary(db):
    sent = outbox_row(db)
    failed = outbox_row(db, status=m.OutboxStatus.FAILED, copy=False, kind="sign_in")
    suppressed = outbox_row(db, status=m.OutboxStatus.SUPPRESSED)
    recent = outbox_row(db, created_at=RECENT)
    waiting = outbox_row(db, status=m.OutboxStatus.RETRY)  # not final: may still go out, so it keeps its text
    db.commit()

    stats = prune.prune(factory_of(db), DAYS, now=NOW)

    assert stats.outbox_cleared == 3
    db.expire_all()
    for row in (sent, failed, suppressed):
        assert (row.sent_copy, row.text_body, row.html_body, row.context, row.headers) == (None, None, None, None, {})
        assert prune.is_pruned(row.parts, row.context, row.status)
    assert (sent.subject, sent.status, sent.provider_message_id, sent.delivery_status) == (
        sent.subject,
        m.OutboxStatus.SENT,
        sent.provider_message_id,
        "delivered",
    )
    assert sent.subject.startswith("Digest ") and sent.sent_at is not None and sent.recipient.endswith("example.org")
    assert sent.idempotency_key.startswith("prune-test:")  # a period run again still finds its key
    assert recent.sent_copy is not None and waiting.sent_copy is not None
    assert not prune.is_pruned(recent.parts, recent.context, recent.status)


def test_each_batch_is_one_statement_and_a_crash_resumes(db, count_queries):
    rows = [outbox_row(db) for _ in range(5)]
    db.commit()
    seen = []

    def crash_after_first(stats):
        seen.append(stats.outbox_cleared)
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        prune.prune(factory_of(db), DAYS, now=NOW, batch_size=2, progress=crash_after_first)
    db.expire_all()
    assert seen == [2] and sum(r.sent_copy is None for r in rows) == 2  # the first batch committed on its own

    with count_queries(db.get_bind()) as q:
        stats = prune.prune(factory_of(db), DAYS, now=NOW, batch_size=2)
    assert stats.outbox_cleared == 3 and stats.batches == 2  # 2 + 1 rows; no ledger rows old enough to walk
    writes = [s for s in q.statements if s.lstrip().upper().startswith(("UPDATE", "DELETE"))]
    assert len(writes) == stats.batches  # flat: one statement per batch, nothing per row
    # The rest are the bounds' point lookups (min/max, then a binary search per table): a few, not one per row.
    assert len(q.statements) - len(writes) <= 2 * (1 + 4)
    db.expire_all()
    assert all(r.sent_copy is None for r in rows)
    assert prune.prune(factory_of(db), DAYS, now=NOW).outbox_cleared == 0  # nothing left: idempotent


def _ledger(db, sub, *items, sent_at=OLD, period="2025-W29") -> m.DigestDelivery:
    """One digest's ledger row with its (kind, id) items."""
    row = m.DigestDelivery(subscription_id=sub.id, items=items_text(items), period=period, sent_at=sent_at)
    db.add(row)
    db.flush()
    return row


def test_ledger_items_go_only_when_they_can_never_be_offered_again(db):
    funder = factories.funder(db, "Invented Prune Trust")
    closed = h.call(db, funder, "Closed long ago", deadline=OLD - dt.timedelta(days=1))
    rolling = h.call(db, funder, "Rolling call", deadline=None)
    reopened = h.call(db, funder, "Deadline moved", deadline=NOW + dt.timedelta(days=20))
    sub = h.subscription(db)
    # Every item closed or gone: the row goes.
    gone = _ledger(db, sub, ("call", closed.id), ("call_closing", closed.id), ("event", 987654))
    mixed = _ledger(
        db,
        sub,
        ("call", rolling.id),  # no deadline: could be in a digest next week
        ("call", closed.id),  # the one item that goes
        ("call", reopened.id),  # open again: the ledger still stops it being sent twice
        ("mystery", 1),  # a kind this job does not know
        period="2025-W30",
    )
    recent = _ledger(db, sub, ("internship", 123456), sent_at=RECENT, period="2026-W40")  # within the period
    open_period = _ledger(db, sub, ("event", 555555), period="2026-W49")  # a period that could still run (the next)
    db.commit()

    assert prune.count(db, DAYS, now=NOW).ledger_deleted == 4
    assert {r.id: r.items for r in db.scalars(select(m.DigestDelivery))}[gone.id]  # the dry run wrote nothing
    stats = prune.prune(factory_of(db), DAYS, now=NOW)

    assert stats.ledger_deleted == 4
    db.expire_all()
    left = {r.id: parse_items(r.items) for r in db.scalars(select(m.DigestDelivery))}
    assert left == {
        mixed.id: [("call", rolling.id), ("call", reopened.id), ("mystery", 1)],
        recent.id: [("internship", 123456)],
        open_period.id: [("event", 555555)],
    }
    assert prune.prune(factory_of(db), DAYS, now=NOW).ledger_deleted == 0  # nothing left to drop: idempotent


def test_the_ledger_walk_reads_each_item_kind_once_per_batch(db, count_queries):
    """Items are shared by many subscribers: a batch asks about each kind once, however many rows it holds."""
    funder = factories.funder(db, "Invented Batch Trust")
    calls = [h.call(db, funder, f"Closed {i}", deadline=OLD - dt.timedelta(days=1)) for i in range(3)]
    sizes = {}
    for readers in (5, 40):
        db.execute(delete(m.DigestDelivery))
        for _ in range(readers):
            _ledger(db, h.subscription(db), *(("call", c.id) for c in calls), ("event", 1))
        db.commit()
        with count_queries() as q:
            stats = prune.prune(factory_of(db), DAYS, now=NOW)
        assert stats.ledger_deleted == readers * 4
        assert db.scalar(select(func.count()).select_from(m.DigestDelivery)) == 0
        item_reads = [s for s in q.statements if "FROM funding_calls" in s or "FROM events" in s]
        ledger_writes = [s for s in q.statements if s.startswith(("DELETE FROM digest", "UPDATE digest"))]
        sizes[readers] = (len(item_reads), len(ledger_writes), stats.batches)
    # One batch of ledger rows (no outbox rows to walk): a read per kind, one DELETE, whatever the number of rows.
    assert sizes[5] == sizes[40] == (2, 1, 1)


def test_the_weekly_walk_starts_a_few_weeks_back_and_stops_at_the_cutoff(db):
    ancient = outbox_row(db, created_at=NOW - dt.timedelta(days=DAYS + 90))  # before the job's lookback
    due = outbox_row(db, created_at=NOW - dt.timedelta(days=DAYS + 3))
    young = outbox_row(db, created_at=RECENT)
    db.commit()
    factory = factory_of(db)
    with factory() as session:
        o = m.OutboxMessage
        assert prune.last_id_before(session, o.id, o.created_at, prune.cutoff_for(DAYS, NOW)) == due.id
        assert prune.last_id_before(session, o.id, o.created_at, OLD - dt.timedelta(days=900)) == 0

    assert prune.prune(factory, DAYS, now=NOW, lookback_days=prune.LOOKBACK_DAYS).outbox_cleared == 1
    db.expire_all()
    assert (ancient.sent_copy is not None, due.sent_copy is None, young.sent_copy is not None) == (True, True, True)
    assert prune.prune(factory, DAYS, now=NOW).outbox_cleared == 1  # crm mail prune walks from the start
    db.expire_all()
    assert ancient.sent_copy is None and young.sent_copy is not None


def test_a_period_with_a_run_still_running_keeps_its_ledger(db):
    sub = h.subscription(db)
    row = _ledger(db, sub, ("event", 424242), period="2025-W10")
    db.add(m.DigestRun(period="2025-W10", frequency="weekly", cutoff_at=OLD, status=m.DigestRunStatus.RUNNING))
    db.commit()
    assert prune.prune(factory_of(db), DAYS, now=NOW).ledger_deleted == 0
    assert db.get(m.DigestDelivery, row.id) is not None


def test_every_digest_ledger_kind_has_a_closing_rule():
    kinds = {kind for section in SECTIONS for kind in section.ledger_kinds()}
    assert kinds <= set(prune.LEDGER_KINDS), kinds - set(prune.LEDGER_KINDS)


def test_admin_page_and_export_say_plainly_that_the_text_is_gone(admin_client, db, settings):
    h.subscription(db, "pruned.reader@example.org")
    row = outbox_row(db, recipient="pruned.reader@example.org")
    db.commit()
    prune.prune(factory_of(db), settings.mail_detail_days, now=NOW)

    page = admin_client.get(f"/admin/mail/{row.id}")
    note = f"The full text of this email is no longer kept (older than {settings.mail_detail_days} days)."
    assert page.status_code == 200 and note in page.text and row.subject in page.text
    assert "(no text part)" not in page.text

    data = export(db, find_subject(db, email="pruned.reader@example.org"), 123)
    (email,) = data["emails_sent"]
    assert email["subject"] == row.subject and email["status"] == "sent" and email["text_body"] is None
    assert email["note"] == "The full text of this email is no longer kept (older than 123 days)."
    shown = admin_client.get("/admin/privacy/subject?email=pruned.reader@example.org")
    assert shown.status_code == 200 and note in shown.text  # the page uses the configured period
    downloaded = admin_client.get("/admin/privacy/export.json?email=pruned.reader@example.org")
    assert downloaded.json()["emails_sent"][0]["note"] == note


def test_the_setting_is_validated():
    assert Settings.from_env({"CRM_MAIL_DETAIL_DAYS": "500"}).mail_detail_days == 500
    with pytest.raises(SettingsError, match="CRM_MAIL_DETAIL_DAYS"):
        Settings.from_env({"CRM_MAIL_DETAIL_DAYS": "7"}).validate()
    with pytest.raises(SettingsError, match="CRM_MAIL_DETAIL_DAYS"):
        Settings.from_env({"CRM_MAIL_DETAIL_DAYS": "a year"})


def test_the_job_is_weekly_at_a_quiet_hour_in_london():
    (job,) = [j for j in JOBS if j.id == "mail.prune_detail"]
    trigger = job.trigger(Settings())
    saturday_night = dt.datetime(2026, 7, 4, 12, 0, tzinfo=dt.UTC)
    fire = trigger.get_next_fire_time(None, saturday_night)
    assert fire.astimezone(ZoneInfo("Europe/London")).weekday() == 6  # Sunday
    assert fire.astimezone(dt.UTC) == dt.datetime(2026, 7, 5, 2, 30, tzinfo=dt.UTC)  # 03:30 BST


def test_command_dry_run_then_prune(db, settings, monkeypatch):
    monkeypatch.setenv("CRM_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CRM_ENV", "test")
    row = outbox_row(db, created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=500))
    db.commit()
    runner = CliRunner()
    assert "--dry-run" in runner.invoke(main, ["mail", "prune", "--help"]).output
    dry = runner.invoke(main, ["mail", "prune", "--dry-run"], catch_exceptions=False)
    assert dry.exit_code == 0 and "would clear 1 outbox rows" in dry.output
    db.expire_all()
    assert db.get(m.OutboxMessage, row.id).sent_copy is not None
    done = runner.invoke(main, ["mail", "prune"], catch_exceptions=False)
    assert done.exit_code == 0 and "cleared 1 outbox rows" in done.output and "batch 1:" in done.output
    db.expire_all()
    assert db.get(m.OutboxMessage, row.id).sent_copy is None


class Recording:
    name = "recording"

    def __init__(self) -> None:
        self.sent = []

    def send_many(self, emails):
        self.sent.extend(emails)
        return [SendResult(SendOutcome.SENT, provider_message_id=f"x{e.outbox_id}") for e in emails]


@pytest.mark.parametrize("kind", ["digest", "sign_in"])
def test_a_pruned_failed_email_sent_again_never_goes_out_empty(db, settings, kind):
    row = outbox_row(db, status=m.OutboxStatus.FAILED, kind=kind, copy=kind == "digest")
    db.commit()
    factory = factory_of(db)
    prune.prune(factory, DAYS, now=NOW)
    db.expire_all()
    assert outbox.resend(db, None, row)
    db.commit()
    transport = Recording()
    drain(factory, transport, settings, renderers=EXTENSIONS.deferred_renderers)
    db.expire_all()
    assert transport.sent == [] and row.status == m.OutboxStatus.FAILED and row.last_error, row.last_error


def test_exactly_once_survives_pruning_a_real_digest_run(db, settings):
    ts = h.topics(db)
    funder = factories.funder(db, "Invented Ledger Trust")
    rolling = h.call(db, funder, "Always open", topic_ids=(ts[1].id,), deadline=None)
    h.call(db, funder, "Closes in two months", topic_ids=(ts[0].id,))
    h.event(db, "Meet-up soon")
    keeper = h.subscription(db, topic_ids=(ts[1].id,))  # gets the rolling call: its ledger row must stay
    reader = h.subscription(db, topic_ids=(ts[0].id,), mailings=("funding_digest", "event_news"))
    db.commit()
    factory = factory_of(db)
    period = periods.parse(h.WEEK)
    assert engine.run_period(factory, settings, period, now=h.NOW).sent == 2
    before = len(delivered(db))

    later = h.NOW + dt.timedelta(days=500)
    stats = prune.prune(factory, DAYS, now=later)
    assert stats.ledger_deleted == before - 1 and delivered(db) == [(keeper.id, "call", rolling.id)]

    # A call published before the pruned period's cut-off and open now: running that period again would offer it
    # to the reader, whose ledger rows of the period are gone (the run resumes after the keeper's id).
    long = h.call(db, funder, "Open for years", topic_ids=(ts[0].id,), deadline=later + dt.timedelta(days=30))
    long.published_at = period.due_at - dt.timedelta(days=2)
    db.commit()
    again = engine.run_period(factory, settings, period, now=later)
    assert (again.considered, again.sent, again.already_sent) == (1, 0, 1)  # the outbox key stayed
    # A new period sends the new call to the reader, and nothing to the keeper (the rolling call's row stayed).
    new = periods.weekly_period(later.date())
    fresh = engine.run_period(factory, settings, new, now=new.due_at + dt.timedelta(hours=1))
    assert (fresh.sent, fresh.skipped_empty) == (1, 1)
    assert delivered(db, period=new.key) == [(reader.id, "call", long.id)]
    assert len(h.digest_rows(db)) == 3
