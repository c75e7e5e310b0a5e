"""Issue 15.3: a crash never sends thousands of emails twice. ``kill -9`` of a real dispatcher process at random
moments against a local fake SendGrid, then a rerun to completion; counted per recipient.

Each trial queues 3,000-4,500 bulk emails, forks a process that drains them through ``SendGridTransport``
(concurrency 2: at most 2 requests of 1,000 in flight) into the fake SendGrid (its own process, recording every
personalization it received in full), and kills it with SIGKILL at a random moment of the drain. The transport's
own claim is one request's worth (1,000); the test raises ``OUTBOX_BATCH_SIZE`` to 4,000 so a claim holds four
requests, and answered requests sit beside the ones in flight (recording per claim would then break the bound). The database
as the kill left it is then settled and drained to completion twice, from the same snapshot:

(a) with the signed Event Webhook: the fake's ``processed`` events go through ``parse_events``/``process_events``,
    the clock moves past the lease and the wait, and every recipient has exactly one email;
(b) without it: the clock moves past the lease and the wait, nobody is lost, and the duplicates are exactly the
    messages of the requests that were in flight (received but unrecorded), at most ``concurrency`` requests.

The dispatcher process is forked from the test process (a fresh engine; the parent's pools are closed first) so
a trial does not pay a Python start-up; the seed is printed, and ``CRM_CRASH_SEED`` replays a run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
import traceback
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, text

from crm import models as m
from crm.db import create_db_engine, create_session_factory
from crm.domains import EXTENSIONS
from crm.mailing import dispatch, settlement, webhooks
from crm.mailing.transports.sendgrid import MAX_PERSONALIZATIONS, SendGridTransport
from tests.mailing.fake_sendgrid import processed_events

ROOT = Path(__file__).resolve().parents[2]
TRIALS = 10
PG_TRIALS = 4  # the same trials on PostgreSQL take about twice as long (claims, resets): fewer there
CONCURRENCY = 2
LATENCY = "0.05-0.45"  # seconds the fake SendGrid takes to answer a request: requests finish out of step
BOUND = CONCURRENCY * MAX_PERSONALIZATIONS  # the most messages the requests in flight can hold
# A claim holds more requests than go at once (4 of 1,000 with 2 in flight), so recording "when the whole claim is
# done" would leave answered requests unrecorded beside the ones in flight, and the bound below would catch it.
CLAIM = 4000


class Fake:
    """The fake SendGrid in a process of its own, as the real one is remote."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.mailing.fake_sendgrid", "0", LATENCY, "record"],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}"

    def records(self, since: int) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/_records?since={since}", timeout=10) as response:
            return json.loads(response.read())

    def total(self) -> int:
        return int(self.records(10**9)["total"])

    def received_since(self, start: int) -> list[tuple[int, str, int]]:
        """Every personalization received in full since ``start``, once the requests being handled are done."""
        deadline = time.monotonic() + 15
        while self.records(10**9)["active"] and time.monotonic() < deadline:
            time.sleep(0.02)
        return [tuple(r) for r in self.records(start)["received"]]

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="module")
def fake() -> Any:
    server = Fake()
    try:
        yield server
    finally:
        server.close()


def _queue(engine: Any, n: int, trial: int, now: dt.datetime) -> list[int]:
    rows = [
        {
            "idempotency_key": f"crash-{trial}-{i}",
            "kind": "event_news",
            "bulk": True,
            "recipient": f"t{trial}-r{i}@example.org",
            "subject": f"News {i}",
            "text_body": f"Hello {i}, here is the news.",
            "html_body": f"<p>Hello {i}, here is the news.</p>",
            "headers": {
                "List-Unsubscribe": f"<https://crm.example.org/u/{i}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
            "next_attempt_at": now - dt.timedelta(seconds=1),
        }
        for i in range(n)
    ]
    with engine.begin() as conn:
        conn.execute(insert(m.OutboxMessage), rows)
        return sorted(conn.scalars(select(m.OutboxMessage.id)))


def _dispatcher(settings: Any) -> None:
    """The forked dispatcher: its own engine, the real transport, drain until nothing is due (or killed)."""
    code = 0
    try:
        engine = create_db_engine(settings)
        transport = SendGridTransport(settings)
        dispatch.drain(create_session_factory(engine), transport, settings, renderers=EXTENSIONS.deferred_renderers)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


def _fork(settings: Any, engines: list[Any]) -> int:
    for engine in engines:  # no pooled connection crosses the fork
        engine.dispose()
    pid = os.fork()
    if pid == 0:
        _dispatcher(settings)
    return pid


# What a drain changes on a row: saved after the kill and put back before the second rerun (raw driver values,
# no JSON or type processing: a full ORM snapshot of 5,000 rows cost more than the trial).
STATE = ("status", "last_error", "lease_until", "next_attempt_at", "attempts", "sent_at", "provider_message_id")


def _snapshot(engine: Any) -> dict[int, dict[str, Any]]:
    with engine.connect() as conn:
        result = conn.exec_driver_sql(f"SELECT id, {', '.join(STATE)} FROM outbox_messages")
        return {row[0]: dict(zip(("id", *STATE), row, strict=True)) for row in result}


def _restore(engine: Any, rows: dict[int, dict[str, Any]]) -> None:
    assignments = ", ".join(f"{column} = :{column}" for column in STATE)
    with engine.begin() as conn:
        conn.execute(delete(m.DeliveryEvent))
        conn.execute(text(f"UPDATE outbox_messages SET {assignments} WHERE id = :id"), list(rows.values()))


def _rerun(engine: Any, settings: Any, fake: Fake, events: list[dict[str, Any]] | None) -> list[tuple[int, str, int]]:
    """Settle and drain to completion with the clock past the lease and then past the wait; what the fake got."""
    start = fake.total()
    factory = create_session_factory(engine)
    if events is not None:  # the signed webhook's batch, through the same parser and processing as the endpoint
        with factory() as session:
            webhooks.process_events(session, webhooks.parse_events(json.dumps(events).encode()))
            session.commit()
    transport = SendGridTransport(settings)
    later = dt.datetime.now(dt.UTC) + settlement.LEASE + dt.timedelta(seconds=5)
    try:
        for now in (later, later + settlement.SETTLE_AFTER + dt.timedelta(seconds=5)):
            dispatch.drain(factory, transport, settings, now, renderers=EXTENSIONS.deferred_renderers)
    finally:
        transport.close()
    return fake.received_since(start)


@pytest.mark.timeout(300)  # ~50 s on SQLite with the machine shared four ways; the suite's 120 s is too tight
def test_kill_9_at_random_moments_loses_nothing_and_duplicates_only_what_was_in_flight(database, clean, app, fake):
    seed = int(os.environ.get("CRM_CRASH_SEED") or random.SystemRandom().randrange(2**32))
    rng = random.Random(seed)
    engine = database.engine
    base = database.settings.replace(
        mail_transport="sendgrid",
        sendgrid_api_key="SG.crash-trials",
        sendgrid_api_url=fake.url,
        sendgrid_concurrency=CONCURRENCY,
        outbox_batch_size=CLAIM,
        sendgrid_timeout=10.0,
        mail_rate_per_second=0.0,
    )
    with_hook = base.replace(sendgrid_webhook_public_key="configured-in-this-trial")
    engines = [engine, app.state.engine]
    figures: list[str] = []
    window = 0.0
    trials = TRIALS if database.kind == "sqlite" else PG_TRIALS
    for trial in range(trials + 1):  # trial 0: an uninterrupted drain, every recipient once
        where = f"seed {seed}, trial {trial} ({database.kind}; replay with CRM_CRASH_SEED={seed})"
        database.isolation.reset()
        n = rng.randint(3000, 4500)
        ids = _queue(engine, n, trial, dt.datetime.now(dt.UTC))
        start = fake.total()
        began = time.monotonic()
        pid = _fork(base, engines)
        if trial == 0:
            _, status = os.waitpid(pid, 0)
            window = time.monotonic() - began
            assert status == 0, where
            got = Counter(i for i, _, _ in fake.received_since(start))
            assert got == Counter(ids), where
            continue
        # A random moment of the drain, whatever the machine's load: after a random number of requests reached
        # the fake (0 = while the first claim is prepared), then a random part of a request's round trip.
        requests = -(-n // MAX_PERSONALIZATIONS)
        wait_for = rng.randint(0, requests - 1)
        pause = rng.uniform(0.0, 0.5)
        exited = False
        while not exited and fake.total() - start < wait_for * MAX_PERSONALIZATIONS:
            exited = os.waitpid(pid, os.WNOHANG) != (0, 0)
            time.sleep(0.01)
        deadline = time.monotonic() + pause
        while not exited and time.monotonic() < deadline:
            exited = os.waitpid(pid, os.WNOHANG) != (0, 0)
            time.sleep(0.005)
        delay = time.monotonic() - began
        if not exited:  # only our own child, by its id
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        received = fake.received_since(start)
        at_kill = _snapshot(engine)
        # What the kill left: recorded, handed over without an outcome, or claimed and never handed over.
        unrecorded = {i for i, r in at_kill.items() if r["status"] == m.OutboxStatus.SENDING}
        claimed = {i for i in unrecorded if at_kill[i]["last_error"] == settlement.CLAIMED}
        got_ids = {i for i, _, _ in received}
        assert not claimed & got_ids, f"a batch still marked claimed reached the provider: {where}"
        in_flight = {request for i, _, request in received if i in unrecorded}
        assert len(in_flight) <= CONCURRENCY, f"{len(in_flight)} requests unrecorded at the kill: {where}"
        sent_at_kill = {i for i, r in at_kill.items() if r["status"] == m.OutboxStatus.SENT}
        assert sent_at_kill <= got_ids, where
        expected_dups = got_ids & unrecorded

        # (a) with the webhook: the processed events settle what reached SendGrid; exactly once each.
        events = processed_events(received)
        resent = _rerun(engine, with_hook, fake, events)
        per_recipient = Counter(email for _, email, _ in received + resent)
        lost = n - len(per_recipient)
        dups_hook = sum(c - 1 for c in per_recipient.values())
        assert lost == 0 and dups_hook == 0, f"with the webhook: {lost} lost, {dups_hook} duplicates: {where}"
        assert {r["status"] for r in _snapshot(engine).values()} == {m.OutboxStatus.SENT}, where

        # (b) without it, from the same state: duplicates are exactly what was in flight, never more.
        _restore(engine, at_kill)
        resent = _rerun(engine, base, fake, None)
        per_recipient = Counter(email for _, email, _ in received + resent)
        lost = n - len(per_recipient)
        dups = sum(c - 1 for c in per_recipient.values())
        assert lost == 0, f"without the webhook {lost} lost: {where}"
        assert dups == len(expected_dups) <= BOUND, f"without the webhook {dups} duplicates: {where}"
        assert {r["status"] for r in _snapshot(engine).values()} == {m.OutboxStatus.SENT}, where
        figures.append(
            f"trial {trial}: {n} emails, kill at {delay:.2f}s (after {wait_for} requests + {pause:.2f}s), received"
            f" {len(got_ids)}, unrecorded {len(unrecorded)}"
            f" ({len(claimed)} claimed ahead), requests in flight {len(in_flight)};"
            f" duplicates with webhook {dups_hook}, without {dups}"
        )
    print(f"\ncrash trials ({database.kind}, seed {seed}, uninterrupted drain {window:.2f}s):")
    print("\n".join(figures))
