"""ETags every process agrees on through Redis (issue 21.3, ``crm.httpcache.Shared``, ``crm.web.stamps_bus``).

The unit tests hold the rules of the copy of the shared versions: a version never goes down, another epoch gives
new tags, this process's own write gives its pages per-process tags until its shared version is in the copy, and
a copy that cannot show it is complete gives no shared tag at all. The bus tests run two buses of one namespace in
this process against a real Redis (one namespace per test). The process tests start three real ``crm run``: A and
B share a Redis, C is pointed at a closed port. A tag A issued is a 304 at B; after a write through A, A's next
answer is new at once and B's within a bound measured here; C falls back to tags of its own and stays correct.
Skipped, with the reason, when no Redis answers.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session

from crm import httpcache
from crm.accounts.services import create_api_key
from crm.web import stamps_bus
from crm.web.stamps_bus import StampsBus
from tests import factories
from tests.conftest import Database
from tests.deploy.conftest import REDIS_TEST_URL, forget_namespace, redis_or_skip
from tests.deploy.test_shared_limits import WebProcess
from tests.internships.helpers import make_internship

TABLES = ("internships", "organisations")


def _synced(epoch: str = "e1", **versions: int) -> httpcache.Shared:
    shared = httpcache.Shared()
    shared.reset(epoch, dict(versions))
    shared.fresh_until = time.monotonic() + 60
    return shared


# -- the rules of the copy ------------------------------------------------------------------------------------


def test_a_version_never_goes_down_whatever_order_messages_come_in() -> None:
    shared = _synced(internships=5)
    five = shared.etag("/internships?|/", TABLES)
    assert five is not None and five.startswith('W/"s')
    assert shared.merge("e1", {"internships": 3}) == []  # late or repeated: ignored
    assert shared.etag("/internships?|/", TABLES) == five
    assert shared.merge("e1", {"internships": 7, "organisations": 1}) == ["internships", "organisations"]
    seven = shared.etag("/internships?|/", TABLES)
    assert seven not in (None, five)
    shared.reset("e1", {"internships": 6})  # a re-read of the hash that lags a message: still 7
    assert shared.state[1]["internships"] == 7 and shared.etag("/internships?|/", TABLES) == seven


def test_concurrent_merges_keep_the_largest_version() -> None:
    shared = _synced(internships=0)
    values = list(range(1, 2001))

    def merging(part: list[int]) -> None:
        for value in part:
            shared.merge("e1", {"internships": value})

    threads = [threading.Thread(target=merging, args=(values[i::4][::-1],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert shared.state[1]["internships"] == 2000


def test_another_epoch_replaces_the_copy_and_never_repeats_a_tag() -> None:
    shared = _synced(internships=5)
    before = shared.etag("/internships?|/", TABLES)
    assert shared.merge("e2", {"internships": 9}) is None  # not merged: the bus reads the hash again
    assert shared.reset("e2", {"internships": 5}) == [httpcache.EVERYTHING]  # flushed Redis counting again
    after = shared.etag("/internships?|/", TABLES)
    assert after is not None and after != before  # same numbers, new prefix


def test_the_tag_is_the_same_in_two_copies_at_the_same_versions_only() -> None:
    a, b = _synced(internships=5, organisations=2), _synced(internships=5, organisations=2)
    assert a.etag("/internships?|/", TABLES) == b.etag("/internships?|/", TABLES)
    assert a.etag("/internships?|/", TABLES) != a.etag("/internships?sort=new|/", TABLES)
    b.merge("e1", {"organisations": 3})
    assert a.etag("/internships?|/", TABLES) != b.etag("/internships?|/", TABLES)
    assert a.etag("/x", TABLES, now=0) != a.etag("/x", TABLES, now=httpcache.WINDOW)  # the window still turns


def test_an_own_write_gives_per_process_tags_until_its_shared_version_is_in_the_copy() -> None:
    shared = _synced(internships=5, events=1)
    before = shared.etag("/internships?|/", TABLES)
    events = shared.etag("/events?|/", ("events",))
    first = shared.committed(["internships"])
    assert shared.etag("/internships?|/", TABLES) is None  # the writer's page: a per-process tag, new at once
    assert shared.etag("/events?|/", ("events",)) == events  # other tables keep the shared tag
    assert shared.etag("/organisations/x?|/", (httpcache.EVERYTHING,)) is None  # "any write" waits too
    second = shared.committed(["internships"])  # a second commit before the first was published
    assert shared.published(["internships"], first, "e1", {"internships": 6, httpcache.ANY: 6})
    assert shared.merge("e1", {"internships": 6, httpcache.ANY: 6}) == ["internships", httpcache.ANY]
    assert shared.etag("/internships?|/", TABLES) is None  # the second commit is not shared yet
    shared.published(["internships"], second, "e1", {"internships": 8})
    assert shared.etag("/internships?|/", TABLES) is None  # published, but the copy is still at 6
    shared.merge("e1", {"internships": 8})
    after = shared.etag("/internships?|/", TABLES)
    assert after is not None and after != before and shared.waiting == {}


def test_the_answer_may_come_before_or_after_its_echo() -> None:
    shared = _synced(internships=5)
    seq = shared.committed(["internships"])
    shared.merge("e1", {"internships": 6})  # the echo on the subscription first
    assert shared.etag("/i", TABLES) is None
    shared.published(["internships"], seq, "e1", {"internships": 6})  # then the publisher's answer
    assert shared.etag("/i", TABLES) is not None


def test_ddl_waits_every_page_and_a_new_epoch_ends_older_waits() -> None:
    shared = _synced(internships=5)
    seq = shared.committed([httpcache.EVERYTHING])
    assert shared.etag("/events?|/", ("events",)) is None
    shared.published([httpcache.EVERYTHING], seq, "e1", {httpcache.EVERYTHING: 1})
    unpublished = shared.committed(["events"])
    shared.reset("e2", {})  # Redis flushed after that publish: every tag of e2 is newer than the DDL
    assert httpcache.EVERYTHING not in shared.waiting and shared.waiting["events"] == (unpublished, None, 0)
    assert shared.etag("/internships?|/", TABLES) is not None and shared.etag("/events?|/", ("events",)) is None


def test_no_shared_tag_without_a_complete_copy() -> None:
    assert httpcache.Shared().etag("/i", TABLES) is None  # never read the hash
    shared = _synced(internships=5)
    tag = shared.etag("/i", TABLES)
    shared.fresh_until = time.monotonic() - 0.001  # no PONG for a lease: the connection may be dead
    assert shared.etag("/i", TABLES) is None
    shared.fresh_until = time.monotonic() + 60
    shared.desync()  # Redis lost
    assert shared.etag("/i", TABLES) is None
    shared.reset("e1", {"internships": 5})
    shared.fresh_until = time.monotonic() + 60
    assert shared.etag("/i", TABLES) == tag


# -- two buses of one namespace, a real Redis --------------------------------------------------------------------


@pytest.fixture
def namespace() -> Iterator[str]:
    client = redis_or_skip()
    name = f"crm-test-etags-{secrets.token_hex(4)}"
    yield name
    forget_namespace(client, name)
    client.close()


@pytest.fixture
def buses() -> Iterator[list[StampsBus]]:
    started: list[StampsBus] = []
    yield started
    for bus in started:
        bus.stop()


def _bus(buses: list[StampsBus], namespace: str, boot: str, url: str = REDIS_TEST_URL) -> StampsBus:
    bus = StampsBus(url, namespace, boot=boot).start()
    buses.append(bus)
    return bus


def _until(condition: object, what: str, timeout: float = 10.0) -> float:
    """Poll ``condition()`` until true; the seconds it took."""
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        assert time.monotonic() - started < timeout, what
        time.sleep(0.001)
    return time.monotonic() - started


def test_two_buses_agree_and_a_write_moves_both(buses: list[StampsBus], namespace: str) -> None:
    a, b = _bus(buses, namespace, "boot-a"), _bus(buses, namespace, "boot-b")
    _until(lambda: a.shared.etag("/i", TABLES) and b.shared.etag("/i", TABLES), "never synced")
    before = a.shared.etag("/i", TABLES)
    assert b.shared.etag("/i", TABLES) == before
    a.on_commit(frozenset({"internships"}))
    assert a.shared.etag("/i", TABLES) is None  # the writer: per-process at once
    waited = _until(lambda: b.shared.etag("/i", TABLES) != before, "b never saw a's write")
    _until(lambda: a.shared.etag("/i", TABLES) is not None, "a's write never came back")
    assert a.shared.etag("/i", TABLES) == b.shared.etag("/i", TABLES) != before
    print(f"\nshared stamps: b's tag moved {1000 * waited:.1f} ms after a's commit was noted")


def test_pongs_renew_the_lease_and_without_them_it_lapses(
    buses: list[StampsBus], namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bus = _bus(buses, namespace, "boot-lease")
    _until(lambda: bus.shared.etag("/i", TABLES), "never synced")
    time.sleep(httpcache.LEASE + 1)  # longer than the lease of the first read: PONGs renewed it
    assert bus.shared.etag("/i", TABLES) is not None
    monkeypatch.setattr(stamps_bus, "PING_EVERY", 1000.0)  # the next PING is the last for a while
    lapsed = _until(lambda: bus.shared.etag("/i", TABLES) is None, "the lease never lapsed", timeout=10)
    assert lapsed <= httpcache.LEASE + 1.5  # the last PING went out at most a second after the patch
    assert bus.subscribed.is_set()  # still subscribed: only the proof is missing


def test_a_flushed_hash_gives_a_new_epoch_and_new_tags(buses: list[StampsBus], namespace: str) -> None:
    a, b = _bus(buses, namespace, "boot-a"), _bus(buses, namespace, "boot-b")
    _until(lambda: a.shared.etag("/i", TABLES) and b.shared.etag("/i", TABLES), "never synced")
    seen = {a.shared.etag("/i", TABLES)}
    a.on_commit(frozenset({"internships"}))
    _until(lambda: b.shared.etag("/i", TABLES) not in seen, "no write seen")
    seen.add(b.shared.etag("/i", TABLES))
    epoch = b.shared.epoch
    client = redis_or_skip()
    client.delete(f"{namespace}:{stamps_bus.VERSIONS}")  # as FLUSHDB or a restart without persistence would
    client.close()
    a.on_commit(frozenset({"internships"}))  # version 1 again, in a new epoch
    _until(lambda: b.shared.epoch not in (None, epoch) and b.shared.etag("/i", TABLES), "b never changed epoch")
    _until(lambda: a.shared.etag("/i", TABLES) == b.shared.etag("/i", TABLES), "a and b never agreed again")
    assert b.shared.etag("/i", TABLES) not in seen


def test_a_lost_subscription_gives_per_process_tags_until_the_hash_is_read_again(
    buses: list[StampsBus], namespace: str
) -> None:
    boot = f"lost-{secrets.token_hex(3)}"
    bus = _bus(buses, namespace, boot)
    _until(lambda: bus.shared.etag("/i", TABLES), "never synced")
    before, syncs = bus.shared.etag("/i", TABLES), bus.syncs
    client = redis_or_skip()
    for known in client.client_list():
        if known.get("name") == f"crm-stamps-{boot}":
            client.client_kill_filter(_id=known["id"])
    client.close()
    _until(lambda: bus.shared.etag("/i", TABLES) is None, "still shared tags without a subscription")
    _until(lambda: bus.shared.etag("/i", TABLES) is not None, "never shared again")
    assert bus.syncs > syncs and bus.shared.etag("/i", TABLES) == before  # same epoch, nothing written


def test_a_message_of_the_previous_release_is_published_again_with_versions(
    buses: list[StampsBus], namespace: str
) -> None:
    b = _bus(buses, namespace, "boot-b")
    _until(lambda: b.shared.etag("/i", TABLES), "never synced")
    before = b.shared.etag("/i", TABLES)
    client = redis_or_skip()
    client.publish(f"{namespace}:{stamps_bus.CHANNEL}", json.dumps({"boot": "old", "tables": ["internships"]}))
    _until(lambda: b.shared.etag("/i", TABLES) not in (None, before), "the old message never raised a version")
    assert int(client.hget(f"{namespace}:{stamps_bus.VERSIONS}", "internships") or 0) >= 1
    client.close()


def test_a_bus_without_redis_never_gives_a_shared_tag(buses: list[StampsBus], namespace: str) -> None:
    bus = _bus(buses, namespace, "boot-down", url="redis://127.0.0.1:1/0")
    _until(lambda: bus.failures >= 2, "no attempt failed")
    assert bus.shared.etag("/i", TABLES) is None


# -- three real web processes ----------------------------------------------------------------------------------

CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"  # nothing listens there: Redis unreachable from the start


@pytest.fixture
def three_web_processes(database: Database, tmp_path: Path) -> Iterator[tuple[list[WebProcess], int, str]]:
    """A and B share a Redis namespace, C's Redis is a closed port; one internship and an admin API key."""
    redis_or_skip().close()
    namespace = f"crm-test-etags-{secrets.token_hex(6)}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env.update(
        CRM_ENV="production",
        CRM_DATABASE_URL=database.url,
        CRM_SECRET_KEY="deploy-test-secret-0123456789-abcdefghijklmnop",
        CRM_DEMO_ADMIN_EMAIL=f"etags-{secrets.token_hex(4)}@example.org",
        CRM_RUN_WORKER_IN_PROCESS="false",
        CRM_REDIS_NAMESPACE=namespace,
        PYTHONUNBUFFERED="1",
    )
    database.isolation.reset()
    with Session(database.engine) as session:
        listing = make_internship(session, factories.organisation(session, "Shared Tags"), title="Before")
        _, key = create_api_key(session, "shared-etags")
        session.commit()
        listing_id = listing.id
    processes: list[WebProcess] = []
    try:
        for name, url in (("a", REDIS_TEST_URL), ("b", REDIS_TEST_URL), ("c", CLOSED_PORT_REDIS)):
            processes.append(WebProcess({**env, "CRM_REDIS_URL": url}, tmp_path / f"web-{name}.log"))
        for process in processes:
            process.wait_ready()
        yield processes, listing_id, key
    finally:
        for process in processes:
            process.stop()
        client = redis_or_skip()
        forget_namespace(client, namespace)
        client.close()
        database.isolation.reset()


def _shared_tag(http: httpx.Client, url: str, timeout: float = 30) -> httpx.Response:
    """The page once the process hands out shared tags (it reads the hash right after it starts)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = http.get(url)
        assert answer.status_code == 200
        if answer.headers["etag"].startswith('W/"s'):
            return answer
        assert time.monotonic() < deadline, f"no shared tag from {url}: {answer.headers['etag']}"
        time.sleep(0.1)


def _clear_of_the_window_turn(margin: float = 3.0) -> None:
    """Wait out a turn of the 60 s window that is less than ``margin`` away: the web processes' windows are not
    frozen (this process's conftest only freezes its own), and a turn between two requests rightly changes tags."""
    left = httpcache.WINDOW - time.time() % httpcache.WINDOW
    if left < margin:
        time.sleep(left + 0.2)


def _agreed(http: httpx.Client, first: WebProcess, second: WebProcess, path: str) -> str:
    """The tag both processes give ``path`` once they agree (a write of one's start-up may be a few ms away)."""
    deadline = time.monotonic() + 5
    while True:
        tag = _shared_tag(http, first.url + path).headers["etag"]
        other = _shared_tag(http, second.url + path).headers["etag"]
        if other == tag:
            return tag
        assert time.monotonic() < deadline, f"{path}: {first.url} says {tag}, {second.url} says {other}"
        time.sleep(0.05)


def _revalidated(http: httpx.Client, processes: tuple[WebProcess, ...], path: str, tag: str, times: int = 20) -> int:
    """How many of ``times`` revalidations of ``tag``, sent to the processes in turn, were a 304."""
    return sum(
        http.get(processes[i % len(processes)].url + path, headers={"If-None-Match": tag}).status_code == 304
        for i in range(times)
    )


@pytest.mark.timeout(600)  # three interpreters start on a loaded 2-core machine
def test_any_process_answers_304_for_a_tag_another_issued_and_never_a_stale_one(three_web_processes) -> None:
    (a, b, c), listing_id, key = three_web_processes
    delays: list[float] = []
    with httpx.Client(timeout=15) as http:
        for path in ("/internships", "/api/v1/internships", "/organisations"):
            _clear_of_the_window_turn()
            tag = _agreed(http, a, b, path)
            assert http.get(b.url + path, headers={"If-None-Match": tag}).status_code == 304
            assert http.get(a.url + path, headers={"If-None-Match": tag}).status_code == 304

        # a round-robin proxy's view: revalidations alternate between processes
        _clear_of_the_window_turn(margin=10)
        tag = _agreed(http, a, b, "/api/v1/internships")
        shared_hits = _revalidated(http, (a, b), "/api/v1/internships", tag)
        own = http.get(c.url + "/api/v1/internships").headers["etag"]
        own_hits = _revalidated(http, (a, c), "/api/v1/internships", own)
        assert (shared_hits, own_hits) == (20, 10)

        # C cannot reach Redis: tags of its own, a 304 only for them, never for a shared one (nor A for C's)
        _clear_of_the_window_turn()
        mine = http.get(c.url + "/internships").headers["etag"]
        assert not mine.startswith('W/"s')
        assert http.get(c.url + "/internships", headers={"If-None-Match": mine}).status_code == 304
        shared = http.get(a.url + "/internships").headers["etag"]
        assert http.get(c.url + "/internships", headers={"If-None-Match": shared}).status_code == 200
        assert http.get(a.url + "/internships", headers={"If-None-Match": mine}).status_code == 200

        for round_ in range(5):  # writes through A: A's answer changes at once, B's within the measured bound
            _clear_of_the_window_turn()
            tag = _agreed(http, a, b, "/internships")
            assert http.get(b.url + "/internships", headers={"If-None-Match": tag}).status_code == 304
            title = f"After {round_}"
            changed = http.patch(
                f"{a.url}/api/v1/internships/{listing_id}",
                json={"title": title},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert changed.status_code == 200, changed.text
            written = time.monotonic()
            again = http.get(a.url + "/internships", headers={"If-None-Match": tag})
            assert again.status_code == 200 and title in again.text  # the writer: never its pre-write tag
            while True:
                seen = http.get(b.url + "/internships", headers={"If-None-Match": tag})
                if seen.status_code == 200:
                    delays.append(time.monotonic() - written)
                    assert title in seen.text
                    break
                assert time.monotonic() - written < 10, "B kept answering 304 after A's write"
            newer = _agreed(http, a, b, "/internships")
            assert newer != tag
            assert http.get(b.url + "/internships", headers={"If-None-Match": newer}).status_code == 304

        # C's own write changes C's tag at once, though it tells no one
        _clear_of_the_window_turn()
        before = http.get(c.url + "/internships").headers["etag"]
        assert http.patch(
            f"{c.url}/api/v1/internships/{listing_id}",
            json={"title": "From C"},
            headers={"Authorization": f"Bearer {key}"},
        ).is_success
        after = http.get(c.url + "/internships", headers={"If-None-Match": before})
        assert after.status_code == 200 and "From C" in after.text
    print(f"\nshared etags: revalidations alternating between two processes: {shared_hits}/20 were a 304 (shared tags)")
    print(f"per-process tags (A and C, whose Redis is a closed port): {own_hits}/20")
    print(
        "shared etags: after a write through A, B stopped answering 304 for the old tag within "
        + ", ".join(f"{1000 * d:.1f}" for d in delays)
        + " ms (from A's answer to the write)"
    )
