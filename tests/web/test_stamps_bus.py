"""HTTP cache stamps shared through Redis (issue 21.3, ``crm.web.stamps_bus``).

The process test is the real case: this process serves the app (``TestClient``, so Litestar's lifespan starts the
bus), a separate ``python`` process writes through a ``Runtime`` (as the worker or a CLI command does), and this
process's next anonymous request must get a new ETag instead of a 304. ``httpcache.window`` is frozen for the
test, so only the bus can change the tag. Without Redis the same run shows today's behaviour: the other process's
write is not seen (until the window turns). The unit tests drive the bus itself: its own messages ignored, a
commit published, a lost subscription noticed, logged once and followed by a "bump everything". Skipped, with the
reason, when no Redis answers (the tests without Redis still run).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from litestar.testing import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from crm import httpcache
from crm.app import create_app
from crm.runtime import Runtime
from crm.web import stamps_bus
from crm.web.stamps_bus import StampsBus
from tests import factories
from tests.conftest import BASE_URL, TEST_SECRET, Database
from tests.deploy.conftest import REDIS_TEST_URL, redis_or_skip
from tests.internships.helpers import make_internship

ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
    """
    import sys, time
    from sqlalchemy import update
    from crm import models as m
    from crm.runtime import Runtime
    from crm.settings import Settings
    rt = Runtime(Settings.from_env().validate())
    with rt.session_factory() as session:
        session.execute(update(m.Internship).where(m.Internship.id == int(sys.argv[1])).values(title=sys.argv[2]))
        committing = time.monotonic()  # CLOCK_MONOTONIC: one clock for every process of this machine
        session.commit()
    print(committing, flush=True)
    """
)


@pytest.fixture
def namespace() -> str:
    return f"crm-test-stamps-{secrets.token_hex(4)}"


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis_or_skip()
    yield client
    client.close()


@pytest.fixture
def frozen_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 60 s window never turns during the test: a new tag can only come from a bumped stamp."""
    monkeypatch.setattr(httpcache, "window", lambda now=None: 123)


def _write_in_another_process(database: Database, internship_id: int, title: str, redis_env: dict[str, str]) -> float:
    """Run the writer in a process of its own; the monotonic time when its commit began."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env.update(CRM_ENV="test", CRM_DATABASE_URL=database.url, CRM_SECRET_KEY=TEST_SECRET, PYTHONPATH=str(ROOT))
    env.update(redis_env)
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(internship_id), title],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return float(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("shared", [True, False], ids=["with-redis", "without-redis"])
def test_a_write_in_another_process_reaches_this_processs_etags_only_through_redis(
    database: Database, namespace: str, frozen_window: None, shared: bool
) -> None:
    redis_env: dict[str, str] = {}
    settings = database.settings
    if shared:
        redis_or_skip().close()
        redis_env = {"CRM_REDIS_URL": REDIS_TEST_URL, "CRM_REDIS_NAMESPACE": namespace}
        settings = settings.replace(redis_url=REDIS_TEST_URL, redis_namespace=namespace)
    database.isolation.reset()
    app = create_app(settings)
    try:
        with app.state.session_factory() as session:
            listing = make_internship(session, factories.organisation(session, "Bus Collective"), title="Before")
            session.commit()
            listing_id = listing.id
        with TestClient(app, base_url=BASE_URL) as client:
            bus = app.stores.get("root").bus if shared else None  # type: ignore[attr-defined]
            assert (bus is not None) == shared
            assert shared or stamps_bus._buses == {}  # without Redis no bus, no listener
            applied_at: list[float] = []
            if bus is not None:
                assert bus.subscribed.wait(10), "the bus never subscribed"
                apply = bus.apply

                def recording(data: bytes | str) -> bool:  # when the message was applied, for the figure
                    done = apply(data)
                    if done:
                        applied_at.append(time.monotonic())
                    return done

                bus.apply = recording  # type: ignore[method-assign]
            first = client.get("/internships")
            tag = first.headers["etag"]
            assert tag.startswith('W/"s') == shared  # a tag every process agrees on only with Redis (test_shared_etags)
            assert client.get("/internships", headers={"If-None-Match": tag}).status_code == 304
            before = httpcache.stamp(["internships"])
            committed = _write_in_another_process(database, listing_id, "After", redis_env)
            if not shared:
                time.sleep(1.0)  # what the bus would have needed, given to a process without one
                assert httpcache.stamp(["internships"]) == before
                again = client.get("/internships", headers={"If-None-Match": tag})
                assert again.status_code == 304  # stale until the window turns: today's documented bound
                return
            deadline = time.monotonic() + 10
            while httpcache.stamp(["internships"]) == before:
                assert time.monotonic() < deadline, "the other process's write never reached this process"
                time.sleep(0.002)
            assert bus is not None and bus.applied >= 1 and applied_at
            after = client.get("/internships", headers={"If-None-Match": tag})
            assert after.status_code == 200
            assert after.headers["etag"] != tag
            assert "After" in after.text
            delay = 1000 * (applied_at[0] - committed)
            print(f"\nstamps bus: a commit begun in another process bumped this one {delay:.1f} ms later")
        assert stamps_bus._buses == {}  # the app's shutdown stopped its bus
    finally:
        if shared:
            app.state.rate_limiter.close()
        app.state.engine.dispose()


@pytest.fixture
def buses(redis_client: redis.Redis, namespace: str) -> Iterator[list[StampsBus]]:
    started: list[StampsBus] = []
    yield started
    for bus in started:
        bus.stop()


def _started(buses: list[StampsBus], namespace: str, boot: str, url: str = REDIS_TEST_URL) -> StampsBus:
    bus = StampsBus(url, namespace, boot=boot).start()
    buses.append(bus)
    return bus


def test_a_bus_applies_the_others_messages_and_never_its_own(buses: list[StampsBus], namespace: str) -> None:
    a, b = _started(buses, namespace, "boot-a"), _started(buses, namespace, "boot-b")
    assert a.subscribed.wait(10) and b.subscribed.wait(10)
    before = httpcache.stamp(["internships", "events"])
    a.on_commit(frozenset({"internships"}))
    deadline = time.monotonic() + 10
    while b.applied == 0:
        assert time.monotonic() < deadline, "b never applied a's message"
        time.sleep(0.005)
    assert a.flush(5) and a.published == 1
    time.sleep(0.2)  # a's own copy of the message has reached a by now (one Redis, one connection each)
    assert (a.applied, b.applied) == (0, 1)
    after = httpcache.stamp(["internships", "events"])
    assert after.split(".")[1] != before.split(".")[1]  # internships bumped
    assert after.split(".")[2] == before.split(".")[2]  # events not


def test_a_committed_write_is_published_with_this_processs_boot(
    buses: list[StampsBus], namespace: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    listener = redis_client.pubsub()
    listener.subscribe(f"{namespace}:{stamps_bus.CHANNEL}")
    assert listener.get_message(timeout=5)["type"] == "subscribe"  # type: ignore[index]
    bus = _started(buses, namespace, httpcache.BOOT)
    engine = create_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE internships (id integer primary key, title text)"))
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO internships (title) VALUES ('x')"))
            conn.execute(text("UPDATE internships SET title = 'y'"))
        messages: list[dict[str, object]] = []
        deadline = time.monotonic() + 10
        while {t for m in messages for t in m["tables"]} != {"*", "internships"}:  # type: ignore[attr-defined]
            assert time.monotonic() < deadline, f"published: {messages}"
            message = listener.get_message(timeout=1)
            if message and message["type"] == "message":
                messages.append(json.loads(message["data"]))
    finally:
        engine.dispose()
        listener.close()
    # The DDL's commit names everything ("*"), the write's its table: two messages, or one if they were coalesced.
    assert 1 <= len(messages) <= 2 and all(m["boot"] == httpcache.BOOT for m in messages)
    assert bus.flush(5) and bus.published == len(messages)
    assert bus.applied == 0  # its own messages are not applied


def test_unreadable_and_own_messages_change_nothing_and_everything_bumps_all() -> None:
    bus = StampsBus("redis://127.0.0.1:1/0", "unused", boot="me")  # never started: apply() alone
    before = httpcache.stamp(["internships"])
    assert not bus.apply(b"not json") and not bus.apply(b'{"tables": ["internships"]}')
    assert not bus.apply(json.dumps({"boot": "me", "tables": ["internships"]}))
    assert httpcache.stamp(["internships"]) == before
    assert bus.apply(json.dumps({"boot": "other", "tables": ["*"]}))
    assert httpcache.stamp(["internships"]).split(".")[0] != before.split(".")[0]  # the everything part


def test_without_redis_writes_and_requests_go_on_and_the_outage_is_logged_once(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG, logger="crm.web.stamps_bus")
    bus = StampsBus("redis://127.0.0.1:1/0", f"down-{secrets.token_hex(3)}", boot="down").start()
    engine = create_engine(f"sqlite:///{tmp_path / 'd.sqlite3'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (id integer primary key)"))
        for _ in range(3):
            with engine.begin() as conn:  # never raises, never waits on Redis
                conn.execute(text("INSERT INTO t DEFAULT VALUES"))
        deadline = time.monotonic() + 15
        while bus.failures < 4:  # both threads failed, then retried after their backoff
            assert time.monotonic() < deadline, f"only {bus.failures} attempts"
            time.sleep(0.05)
    finally:
        bus.stop()
        engine.dispose()
    warnings = [r for r in caplog.records if r.name == "crm.web.stamps_bus" and r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "Redis unavailable" in warnings[0].getMessage()
    assert bus.on_commit not in httpcache.committed_listeners  # stopped: no longer told of commits


def test_a_lost_subscription_is_logged_reconnected_and_bumps_everything(
    buses: list[StampsBus], namespace: str, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="crm.web.stamps_bus")
    boot = f"kill-{secrets.token_hex(3)}"
    bus = _started(buses, namespace, boot)
    assert bus.subscribed.wait(10)
    before = httpcache.stamp([])  # the "everything" part alone
    ids = [c["id"] for c in redis_client.client_list() if c.get("name") == f"crm-stamps-{boot}"]
    assert ids, "the bus's connections are not named"
    for client_id in ids:
        redis_client.client_kill_filter(_id=client_id)
    deadline = time.monotonic() + 15
    while httpcache.stamp([]) == before or not bus.subscribed.is_set():
        assert time.monotonic() < deadline, "the bus never came back"
        time.sleep(0.02)
    messages = [r.getMessage() for r in caplog.records if r.name == "crm.web.stamps_bus"]
    assert any("Redis unavailable" in m for m in messages) and any("reachable again" in m for m in messages)


def test_one_bus_per_process_and_namespace_shared_by_the_app_and_the_runtime(
    database: Database, redis_client: redis.Redis, namespace: str
) -> None:
    settings = database.settings.replace(redis_url=REDIS_TEST_URL, redis_namespace=namespace)
    app = create_app(settings)
    rt = Runtime(settings)
    try:
        assert stamps_bus._buses == {}  # building an app starts nothing; serving it does
        with TestClient(app, base_url=BASE_URL):
            bus = app.stores.get("root").bus  # type: ignore[attr-defined]
            assert bus is not None and rt.engine is not None and rt.bus is bus
            assert httpcache.committed_listeners.count(bus.on_commit) == 1
        assert (REDIS_TEST_URL, namespace) in stamps_bus._buses  # the runtime still uses it
        rt.close()
        assert stamps_bus._buses == {} and bus.on_commit not in httpcache.committed_listeners
        plain = Runtime(database.settings)
        assert plain.engine is not None and plain.bus is None  # without Redis: no bus
        plain.close()
    finally:
        rt.close()
        app.state.rate_limiter.close()
        app.state.engine.dispose()


def test_other_processes_are_told_of_a_commit_only_once_it_is_visible(tmp_path: Path) -> None:
    """SQLAlchemy's commit event comes before the DBAPI commit: told then, another process could read the old rows
    under the versions the bus raised and keep them as that version's page. The listeners run after it."""
    url = f"sqlite:///{tmp_path / 'visible.sqlite3'}"
    engine, reader = create_engine(url), create_engine(url)
    seen: list[tuple[frozenset[str], int]] = []

    def listener(tables: frozenset[str]) -> None:  # what another process would read when told
        with reader.connect() as conn:
            seen.append((tables, int(conn.scalar(text("SELECT count(*) FROM t")) or 0)))

    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (id integer primary key)"))
        httpcache.committed_listeners.append(listener)
        with engine.begin() as conn:  # committed, then back to the pool
            conn.execute(text("INSERT INTO t DEFAULT VALUES"))
        assert seen == [(frozenset({"t"}), 1)]
        with Session(engine) as session:  # the ORM: told before commit() returns
            session.execute(text("INSERT INTO t DEFAULT VALUES"))
            session.commit()
            assert seen[-1] == (frozenset({"t"}), 2)
        with engine.connect() as conn:  # a connection kept after its commit: told when it begins again
            conn.execute(text("INSERT INTO t DEFAULT VALUES"))
            conn.commit()
            conn.execute(text("SELECT 1"))
            assert seen[-1] == (frozenset({"t"}), 3)
        assert len(seen) == 3
    finally:
        with contextlib.suppress(ValueError):
            httpcache.committed_listeners.remove(listener)
        engine.dispose()
        reader.dispose()
