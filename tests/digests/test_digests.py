"""The digest run: matching, the ledger, idempotency, statement counts, rendering at dispatch, bad input, pages."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import delete, func, select

from crm import models as m
from crm.db import create_session_factory
from crm.digests import engine, periods, render
from crm.digests.ledger import delivered
from crm.domains import EXTENSIONS
from crm.mailing.dispatch import drain
from crm.mailing.transports.base import SendOutcome, SendResult
from tests import factories
from tests.conftest import post_form
from tests.digests import helpers as h

PERIOD = periods.parse(h.WEEK)


class Capture:
    name = "capture"

    def __init__(self) -> None:
        self.sent = []

    def send_many(self, emails):
        self.sent.extend(emails)
        return [SendResult(SendOutcome.SENT, provider_message_id=f"x{e.outbox_id}") for e in emails]


def factory(db):
    return create_session_factory(db.get_bind())


def run(db, settings, **kw):
    db.commit()
    return engine.run_period(factory(db), settings, PERIOD, now=h.NOW, **kw)


def contexts(db) -> dict[int, dict]:
    return {r.subscription_id: r.context for r in h.digest_rows(db)}


def ids_in(ctx, key):
    return next((ids for k, ids, _ in ctx["sections"] if k == key), [])


def test_matching_respects_topics_regions_funders_and_vcse_filter(db, settings) -> None:
    ts, rg = h.topics(db), h.regions(db)
    region_codes = [c for c in rg if c != "UK"]
    north, south = rg[region_codes[0]], rg[region_codes[1]]
    f1, f2 = factories.funder(db), factories.funder(db)
    c_topic = h.call(db, f1, "Topic A call", topic_ids=(ts[0].id,))
    c_other_topic = h.call(db, f1, "Topic B call", topic_ids=(ts[1].id,))
    c_north = h.call(db, f1, "North only", topic_ids=(ts[0].id,), region_ids=(north,))
    c_uk = h.call(db, f1, "UK-wide", topic_ids=(ts[0].id,), region_ids=(rg["UK"],))
    c_f2 = h.call(db, f2, "Other funder", topic_ids=(ts[0].id,))
    c_vcse = h.call(db, f1, "Needs partner", topic_ids=(ts[0].id,), vcse=True)
    c_late = h.call(
        db, f1, "Published after cut-off", topic_ids=(ts[0].id,), published_at=PERIOD.cutoff + dt.timedelta(hours=1)
    )
    c_closed = h.call(db, f1, "Deadline passed", topic_ids=(ts[0].id,), deadline=h.NOW - dt.timedelta(days=1))
    c_draft = h.call(db, f1, "Draft", topic_ids=(ts[0].id,), status=m.CallStatus.DRAFT)
    south_sub = h.subscription(db, topic_ids=(ts[0].id,), region_ids=(south,))
    funder_sub = h.subscription(db, topic_ids=(ts[0].id,), funder_ids=(f2.id,))
    vcse_sub = h.subscription(db, topic_ids=(ts[0].id,), only_vcse=True)
    nothing_sub = h.subscription(db, topic_ids=(ts[5].id,))
    paused = h.subscription(db, topic_ids=(ts[0].id,), status=m.SubscriptionStatus.PAUSED)
    monthly = h.subscription(db, topic_ids=(ts[0].id,), frequency=m.Frequency.MONTHLY)
    stats = run(db, settings)
    assert stats.considered == 4 and stats.sent == 3 and stats.skipped_empty == 1
    got = contexts(db)
    south_calls = set(ids_in(got[south_sub.id], "calls_new"))
    more = next(x for k, _, x in got[south_sub.id]["sections"] if k == "calls_new")
    assert len(south_calls) + more == 4  # topic, UK-wide, other funder, needs-partner; 3 shown, 1 waits
    assert south_calls <= {c_topic.id, c_uk.id, c_f2.id, c_vcse.id} and c_north.id not in south_calls
    assert c_other_topic.id not in south_calls and c_late.id not in south_calls
    assert not ({c_closed.id, c_draft.id} & south_calls)
    assert ids_in(got[funder_sub.id], "calls_new") == [c_f2.id]
    assert ids_in(got[vcse_sub.id], "calls_new") == [c_vcse.id]
    assert nothing_sub.id not in got and paused.id not in got and monthly.id not in got


def test_ledger_never_sends_an_item_twice_and_reruns_queue_nothing(db, settings) -> None:
    ts = h.topics(db)
    f = factories.funder(db)
    first = h.call(db, f, topic_ids=(ts[0].id,))
    sub = h.subscription(db, topic_ids=(ts[0].id,))
    assert run(db, settings).sent == 1
    again = run(db, settings)  # same period again (resumes after the last committed subscription)
    assert again.sent == 0
    assert db.scalar(select(func.count()).select_from(m.OutboxMessage)) == 1
    # Next week: a new call arrives; only it is sent, the first never again.
    second = h.call(db, f, topic_ids=(ts[0].id,))
    db.commit()
    nxt = PERIOD.next()
    engine.run_period(factory(db), settings, nxt, now=nxt.due_at + dt.timedelta(hours=1))
    rows = {r.idempotency_key: r.context for r in h.digest_rows(db)}
    assert ids_in(rows[f"digest:{sub.id}:2026-W49"], "calls_new") == [second.id]
    ledger = [(kind, item_id) for _, kind, item_id in delivered(db)]
    assert sorted(ledger) == sorted([("call", first.id), ("call", second.id)])
    assert db.scalar(select(func.count()).select_from(m.DigestDelivery)) == 2  # a row per digest
    # The week after: nothing new → no email.
    w50 = nxt.next()
    stats = engine.run_period(factory(db), settings, w50, now=w50.due_at + dt.timedelta(hours=1))
    assert stats.sent == 0 and stats.skipped_empty == 1


def test_closing_soon_reminds_once_even_after_the_call_was_new(db, settings) -> None:
    ts = h.topics(db)
    f = factories.funder(db)
    soon = h.call(db, f, "Closing in 10 days", topic_ids=(ts[0].id,), deadline=h.NOW + dt.timedelta(days=10))
    later = h.call(db, f, "Closing in 40 days", topic_ids=(ts[0].id,), deadline=h.NOW + dt.timedelta(days=40))
    sub = h.subscription(db, topic_ids=(ts[0].id,))
    run(db, settings)
    ctx = contexts(db)[sub.id]
    assert ids_in(ctx, "calls_closing") == [soon.id]
    assert ids_in(ctx, "calls_new") == [later.id]  # not repeated under "new"
    kinds = {(kind, item_id) for _, kind, item_id in delivered(db)}
    assert kinds == {("call_closing", soon.id), ("call", soon.id), ("call", later.id)}


def test_statements_per_batch_are_constant(db, settings, count_queries) -> None:
    ts = h.topics(db)
    f = factories.funder(db)
    for i in range(6):
        h.call(db, f, topic_ids=(ts[i % 3].id,))
    h.event(db)
    for i in range(30):
        h.subscription(db, topic_ids=tuple({ts[i % 3].id, ts[3 + i % 2].id}), mailings=("funding_digest", "event_news"))
    db.commit()
    counts = {}
    for size in (10, 5):
        db.execute(delete(m.DigestDelivery))
        db.execute(delete(m.OutboxMessage))
        db.commit()
        with count_queries() as q:
            stats = engine.run_period(factory(db), settings, PERIOD, now=h.NOW, batch_size=size)
        assert stats.sent == 30
        counts[size] = (q.count, stats.batches)
    (c10, b10), (c5, b5) = counts[10], counts[5]
    # Exactly four statements per extra batch: read, outbox rows, ledger rows, the shard's progress.
    assert (c5 - c10) == 4 * (b5 - b10)
    if db.get_bind().dialect.name == "sqlite":  # plus a fixed cost: plan, catalogue, shard start and end, run end
        assert c5 <= 4 * b5 + 20


def test_dispatch_renders_the_digest_with_footer_headers_and_a_readable_text_part(db, settings) -> None:
    ts = h.topics(db)
    f = factories.funder(db, "Invented Trust")
    c = h.call(db, f, "Peer support & recovery", topic_ids=(ts[0].id,), vcse=True)
    e = h.event(db, "Autumn meet-up")
    sub = h.subscription(
        db, "sam@example.org", name="Sam", topic_ids=(ts[0].id,), mailings=("funding_digest", "event_news")
    )
    run(db, settings)
    row = h.digest_rows(db)[0]
    assert row.text_body is None and row.template == "digest" and row.bulk
    assert len(json.dumps(row.context)) < 300  # what to render, not 8 kB of bodies
    transport = Capture()
    stats = drain(factory(db), transport, settings, now=h.NOW, renderers=EXTENSIONS.deferred_renderers)
    assert stats.sent == 1
    mail = transport.sent[0]
    assert "1 new funding call and 1 event" in mail.subject
    assert "Peer support & recovery" in mail.text and "Peer support &amp; recovery" in mail.html
    assert "Needs a VCSE partner" in mail.text and "Invented Trust" in mail.text
    assert "Next deadline: Sun 24 Jan 2027, 12:00" in mail.text
    assert "Autumn meet-up" in mail.text
    assert "/u/" in mail.text and "/preferences/" in mail.text and "/u/" in mail.html
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail.headers["List-Unsubscribe"].startswith("<http")
    assert render.NR_PLACEHOLDER not in mail.html + mail.text
    links = re.findall(r"/digests/hide/([^/\s\"]+)/([a-z]+-\d+)", mail.text)
    assert {item for _, item in links} == {f"call-{c.id}", f"event-{e.id}"}
    size = len(json.dumps({"t": mail.text, "h": mail.html}).encode())
    assert size < 10_000, size  # fits one SendGrid personalization: 1,000 digests per request
    db.expire_all()
    assert db.get(m.OutboxMessage, row.id).status == m.OutboxStatus.SENT
    assert sub.id == row.subscription_id


def test_not_relevant_link_hides_one_item_for_that_subscription_only(client, db, settings) -> None:
    ts = h.topics(db)
    f = factories.funder(db)
    c = h.call(db, f, "Hide me", topic_ids=(ts[0].id,), deadline=h.NOW + dt.timedelta(days=10))
    other_call = h.call(db, f, "Keep me", topic_ids=(ts[0].id,), deadline=h.NOW + dt.timedelta(days=11))
    sub = h.subscription(db, topic_ids=(ts[0].id,))
    other = h.subscription(db, topic_ids=(ts[0].id,))
    db.commit()
    token = client.app.state.signer.digest_token(sub.id, sub.email)  # the digest's one token
    url = f"/digests/hide/{token}/call-{c.id}"
    page = client.get(url)
    assert page.status_code == 200 and "Hide me" in page.text and "<form" in page.text
    assert db.scalar(select(func.count()).select_from(m.DigestHiddenItem)) == 0  # GET changes nothing
    done = post_form(client, url)
    assert done.status_code == 200 and "will not appear" in done.text
    post_form(client, url)  # idempotent
    assert db.execute(select(m.DigestHiddenItem.subscription_id, m.DigestHiddenItem.item_id)).all() == [(sub.id, c.id)]
    run(db, settings)
    got = contexts(db)
    assert c.id not in ids_in(got[sub.id], "calls_closing") and other_call.id in ids_in(got[sub.id], "calls_closing")
    assert c.id in ids_in(got[other.id], "calls_closing")
    assert client.get(f"/digests/hide/{token}x/call-{c.id}").status_code == 400
    assert client.get(f"/digests/hide/{token}/call-999999").status_code == 400


def test_bad_input_fails_one_digest_and_the_run_goes_on(db, settings, monkeypatch) -> None:
    ts = h.topics(db)
    long_funder = factories.funder(db, ("Invented " + "Very Long Funder Name " * 14)[:300])  # 300 characters
    assert len(long_funder.name) == 300
    bare = h.call(db, long_funder, "Bare call", topic_ids=(ts[0].id,), deadline=None, amount=(None, None))
    doomed_topic = m.Topic(slug="doomed", name="Doomed topic")
    db.add(doomed_topic)
    db.flush()
    orphan = h.subscription(db, topic_ids=(doomed_topic.id,))  # its only topic is deleted below
    broken = h.subscription(db, "broken@example.org", topic_ids=(ts[0].id,))
    broken.filters = {"internships": "not a dict"}
    broken.funder_ids = ["x", None]
    fine = h.subscription(db, "fine@example.org", topic_ids=(ts[0].id,))
    template_error = h.subscription(db, "explode@example.org", topic_ids=(ts[0].id,))
    db.flush()
    db.delete(doomed_topic)
    db.commit()
    real_view = engine.subscriber_view

    def view(row):
        if row.email == "broken@example.org":
            raise ValueError("stored filters cannot be read")
        return real_view(row)

    monkeypatch.setattr(engine, "subscriber_view", view)
    stats = run(db, settings)
    assert stats.failed == 1 and stats.sent == 3  # orphan (topics gone = any topic), fine, template_error
    failure = db.scalar(select(m.DigestFailure))
    assert failure.subscription_id == broken.id and "stored filters" in failure.error
    # A template error for one subscriber at dispatch: that digest fails, the others go out.
    real_render = render.DigestRenderer.render

    def exploding(self, catalogue, context, *, email, subscription_id, mailing, name=""):
        if email == "explode@example.org":
            raise RuntimeError("template blew up")
        return real_render(
            self, catalogue, context, email=email, subscription_id=subscription_id, mailing=mailing, name=name
        )

    monkeypatch.setattr(render.DigestRenderer, "render", exploding)
    transport = Capture()
    stats = drain(factory(db), transport, settings, now=h.NOW, renderers=EXTENSIONS.deferred_renderers)
    assert stats.sent == 2 and stats.failed == 1
    texts = {e.to: e.text for e in transport.sent}
    assert set(texts) == {orphan.email, fine.email}
    assert "Bare call" in texts[fine.email] and "Next deadline: none" in texts[fine.email]
    assert "…" in texts[fine.email]  # the 300-character funder name is cut
    db.expire_all()
    failed = db.scalar(select(m.OutboxMessage).where(m.OutboxMessage.recipient == "explode@example.org"))
    assert failed.status == m.OutboxStatus.FAILED and "template blew up" in failed.last_error
    render_failure = db.scalar(select(m.DigestFailure).where(m.DigestFailure.stage == "render"))
    assert render_failure.subscription_id == template_error.id
    run_row = db.get(m.DigestRun, stats_run_id(db))
    assert run_row.failed == 2
    assert bare.id


def stats_run_id(db) -> int:
    return db.scalar(select(func.max(m.DigestRun.id)))


def test_internship_section_uses_alert_filters(db, settings) -> None:
    from tests.internships.helpers import make_internship

    host = factories.organisation(db, "Invented Host")
    ts = h.topics(db)
    remote = make_internship(db, host, title="Remote placement", mode="remote", topics=(ts[0].name,))
    onsite = make_internship(db, host, title="On-site placement", mode="on-site", topics=(ts[0].name,))
    sub = h.subscription(
        db,
        topic_ids=(ts[0].id,),
        mailings=("internship_alerts",),
        filters={"internships": {"modes": ["remote"]}},
    )
    for i in (remote, onsite):
        i.published_at = h.NOW - dt.timedelta(days=5)
    run(db, settings)
    assert ids_in(contexts(db)[sub.id], "internships") == [remote.id]
    transport = Capture()
    drain(factory(db), transport, settings, now=h.NOW, renderers=EXTENSIONS.deferred_renderers)
    text = transport.sent[0].text
    assert "Remote placement" in text and "Invented Host" in text and "Not relevant?" in text
    assert text.count("Open internships") == 1


def test_dry_run_counts_without_queueing(db, settings) -> None:
    ts = h.topics(db)
    h.call(db, factories.funder(db), topic_ids=(ts[0].id,))
    h.subscription(db, topic_ids=(ts[0].id,))
    stats = run(db, settings, dry_run=True)
    assert stats.sent == 1
    assert h.digest_rows(db) == [] and db.scalar(select(func.count()).select_from(m.DigestDelivery)) == 0


def test_admin_preview_and_runs_page(admin_client, db, settings) -> None:
    ts = h.topics(db)
    h.call(db, factories.funder(db), "Previewed call", topic_ids=(ts[0].id,))
    sub = h.subscription(db, topic_ids=(ts[0].id,))
    db.commit()
    page = admin_client.get(f"/admin/digests/preview/{sub.id}")
    assert page.status_code == 200 and "Previewed call" in page.text and "Not relevant?" in page.text
    html = admin_client.get(f"/admin/digests/preview/{sub.id}/html")
    assert "Previewed call" in html.text and "sandbox" in html.headers["content-security-policy"]
    assert admin_client.get("/admin/digests/preview/999999").status_code == 404
    assert h.digest_rows(db) == []  # a preview writes nothing
    run(db, settings)
    runs = admin_client.get("/admin/digests")
    assert runs.status_code == 200 and "2026-W48" in runs.text


def test_pages_need_an_admin(client, db) -> None:
    assert client.get("/admin/digests", follow_redirects=False).status_code in (302, 303, 401)


@pytest.mark.parametrize("bad", ["2026-W99", "soon"])
def test_cli_refuses_a_bad_period(bad) -> None:
    from click.testing import CliRunner

    from crm.cli import main

    result = CliRunner().invoke(main, ["digests", "run", "--period", bad])
    assert result.exit_code == 1 and ("period" in result.output or "ISO week" in result.output)


def test_array_text_is_used_only_for_values_postgresql_reads_back_unchanged() -> None:
    from crm.db import array_text

    assert array_text((3, 1, 2)) == "{3,1,2}"
    assert array_text(("call:1,event:22", "news:3")) == '{"call:1,event:22","news:3"}'
    assert array_text(["NULL", None, 'x"y', "back\\slash"]) == '{"NULL",NULL,"x\\"y","back\\\\slash"}'
    for odd in ((1, "1"), (1.5,), (True,)):
        assert array_text(odd) == list(odd)


ARRAYS = [
    (3, 1, 2),
    (),
    ("call", "call_closing"),
    ("call:1,event:22", "news:3"),
    ("NULL", "null", "", None),
    ("a b", 'x"y', "{x}", "back\\slash", 'O\'Neil, "Sam"', "Zoë “café”"),
]


def test_array_text_reads_back_unchanged_in_postgresql(db) -> None:
    from crm.db import array_text

    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL arrays")
    conn = db.connection()
    for values in ARRAYS:
        kind = "INTEGER[]" if values and type(values[0]) is int else "TEXT[]"
        back = conn.exec_driver_sql(f"SELECT CAST(%s AS {kind})", (array_text(values),)).scalar()
        assert back == list(values)


def test_outbox_and_ledger_rows_keep_awkward_values_exactly(db, settings) -> None:
    """Names and addresses with quotes, commas, braces, backslashes and words PostgreSQL's array syntax treats
    specially go through the batch's arrays (PostgreSQL) or VALUES (SQLite) unchanged."""
    ts = h.topics(db)
    h.call(db, factories.funder(db), topic_ids=(ts[0].id,))
    names = ['O\'Neil, "Sam"', "{braces}", "NULL", "back\\slash", "Zoë “café”", "a,b"]
    subs = [h.subscription(db, f"p{i}@example.org", name=n, topic_ids=(ts[0].id,)) for i, n in enumerate(names)]
    db.commit()
    assert engine.run_period(factory(db), settings, PERIOD, now=h.NOW).sent == len(names)
    rows = {r.subscription_id: r for r in h.digest_rows(db)}
    assert [rows[s.id].recipient_name for s in subs] == [" ".join(n.split()) for n in names]
    assert all(rows[s.id].context["period"] == PERIOD.key for s in subs)
    ledger = [(sid, kind) for sid, kind, _ in delivered(db)]
    assert sorted(ledger) == sorted((s.id, "call") for s in subs)
