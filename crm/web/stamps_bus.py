"""HTTP cache stamps shared through Redis (issue 21.3): a write committed by one process bumps every process.

``crm.httpcache`` keeps each table's version in process, so a request's ETag costs no query and no round trip.
Alone, a process learns of another's writes only when the 60-second window turns. With ``CRM_REDIS_URL`` set,
every process (web, worker, CLI) runs one ``StampsBus``:

- **Publish**: ``crm.httpcache`` calls ``on_commit`` with the tables of every committed write of this process.
  It only adds them to a pending set (and marks them waiting in ``shared``); a publisher thread sends them,
  several commits' tables as one message when they come faster than Redis answers (a digest run commits
  thousands of batches), so a write never waits on Redis and never fails because of it. The send is one Lua
  script (``PUBLISH_LUA``): ``HINCRBY`` of each table's version, and of ``+`` (any write), in the hash
  ``<CRM_REDIS_NAMESPACE>:httpcache-versions``, then ``PUBLISH`` of ``{"boot", "epoch", "tables", "versions"}``
  on ``<CRM_REDIS_NAMESPACE>:httpcache-stamps`` (two deployments sharing a Redis never bump each other). The
  script's answer is the message: the publisher merges its new versions at once.
- **Subscribe**: a daemon thread listens on the channel. For every message it raises ``shared``'s versions to the
  message's (this process's own too: that is how its writes end their wait) and, for *other* processes'
  messages, calls ``httpcache.bump(tables)`` (the per-process versions, ``kept`` and ``remember``; ``bump``
  does not publish, so nothing echoes). Once subscribed it reads the whole hash (``SYNC_LUA``: ``HGETALL``), so
  whatever was published before the subscription is in the copy and whatever after arrives as a message; from
  then on ``shared`` hands out tags every process agrees on (``crm.httpcache.Shared``). It PINGs on the
  subscription every second: a PONG proves every message published before the PING was applied, and the copy is
  trusted for ``httpcache.LEASE`` seconds after the last proved PING, so a connection that died silently costs
  at most that before the process falls back to its per-process tags. A request still reads only memory.
- **Redis unreachable**: a warning is logged once (and "reachable again" once it is), ``shared`` stops handing
  out tags (per-process ones, as without Redis), writes and requests go on with the window as the bound, and both
  threads reconnect with backoff (0.5 s doubling to 30 s). After a reconnection the subscriber bumps everything
  once, since messages sent meanwhile were missed (pub/sub keeps nothing), and reads the hash again, which has
  every version raised meanwhile. The window stays the safety net for anything else lost.
- **Epochs**: a restarted, restored or flushed Redis counts from lower numbers again. The epoch (Redis's run id
  and a random id kept in the hash) is in every message and every answer; a different one makes the subscriber
  read the hash again and ``shared`` take a new tag prefix, so no tag handed out before can come back.
- **Mixed releases**: a message without versions (a process of the previous release during a rolling deploy)
  is applied as before and published again with versions on its behalf, so the shared versions never miss it.

One bus per process and Redis namespace (``acquire``/``release`` count users): ``crm run`` with the embedded
worker has the app and the worker's ``Runtime`` in one process, and must not publish every write twice.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import json
import logging
import secrets
import threading
import time
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from crm import httpcache
from crm.settings import Settings

log = logging.getLogger(__name__)

CHANNEL = "httpcache-stamps"
VERSIONS = "httpcache-versions"  # the hash of shared versions: table -> version, "+" any write, "@epoch"
PING_EVERY = 1.0  # seconds between the subscriber's PINGs (each PONG renews the lease, httpcache.LEASE)
LEASE_TOKEN = b"crm-stamps-lease"

_EPOCH_LUA = """
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
redis.call('HSETNX', KEYS[1], '@epoch', ARGV[1])
local epoch = run .. ':' .. redis.call('HGET', KEYS[1], '@epoch')
"""
# KEYS[1] the hash; ARGV: a new epoch id (used if the hash has none), the channel, our boot, the tables
PUBLISH_LUA = (
    _EPOCH_LUA
    + """
local versions = {['+'] = redis.call('HINCRBY', KEYS[1], '+', 1)}
local tables = {}
for i = 4, #ARGV do
  tables[#tables + 1] = ARGV[i]
  versions[ARGV[i]] = redis.call('HINCRBY', KEYS[1], ARGV[i], 1)
end
local message = cjson.encode({boot = ARGV[3], epoch = epoch, tables = tables, versions = versions})
redis.call('PUBLISH', ARGV[2], message)
return message
"""
)
SYNC_LUA = _EPOCH_LUA + "return {epoch, redis.call('HGETALL', KEYS[1])}\n"
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0  # seconds between reconnection attempts, doubling
FLUSH_AT_EXIT_SECONDS = 1.0  # a CLI command that wrote and exits at once still tells the others


class StampsBus:
    """Publishes this process's committed tables and applies other processes' (see the module docstring)."""

    def __init__(self, url: str, namespace: str, boot: str = httpcache.BOOT) -> None:
        self.url, self.boot = url, boot
        self.channel = f"{namespace}:{CHANNEL}"
        self.versions_key = f"{namespace}:{VERSIONS}"
        self.shared = httpcache.Shared()  # the copy of the shared versions: the tags every process agrees on
        self.syncs = 0  # whole-hash reads (figures and tests)
        self._resync = threading.Event()  # a message or an answer from another epoch: read the hash again
        self.published = 0  # messages sent (figures and tests)
        self.applied = 0  # messages of other processes applied
        self.failures = 0  # attempts Redis refused (logged once per outage)
        self.subscribed = threading.Event()  # set while the subscriber listens
        self._pending: set[str] = set()
        self._sending = False
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._failing: set[str] = set()  # "publish" / "subscribe" while Redis fails them
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> StampsBus:
        httpcache.committed_listeners.append(self.on_commit)
        httpcache.shared_states.append(self.shared)
        for name, target in (("publish", self._publish_loop), ("subscribe", self._subscribe_loop)):
            thread = threading.Thread(target=target, name=f"crm-stamps-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening and publishing (what is pending gets one last attempt)."""
        with contextlib.suppress(ValueError):
            httpcache.committed_listeners.remove(self.on_commit)
        with contextlib.suppress(ValueError):
            httpcache.shared_states.remove(self.shared)
        self.shared.desync()
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def flush(self, timeout: float) -> bool:
        """Wait until every table handed to ``on_commit`` has been published (or ``timeout``); True if so."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._sending, timeout)

    # -- publishing --------------------------------------------------------------------------------------------

    def on_commit(self, tables: frozenset[str]) -> None:
        """``crm.httpcache.committed_listeners``: note the tables, wake the publisher. Never blocks on Redis.
        The tables wait in ``shared`` (per-process tags for their pages) until their new versions are in it."""
        with self._cond:  # one lock with the pending set: a commit's seq and its tables are taken together
            self.shared.committed(tables)
            self._pending |= tables
            self._cond.notify_all()

    def _publish_loop(self) -> None:
        client = self._client()
        script = client.register_script(PUBLISH_LUA)
        backoff = BACKOFF_FIRST
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: bool(self._pending) or self._stopping.is_set())
                    if not self._pending:
                        return  # stopping, nothing left
                    tables, self._pending, self._sending = self._pending, set(), True
                    upto = self.shared.seq
                try:
                    args = [secrets.token_hex(8), self.channel, self.boot, *sorted(tables)]
                    answer = json.loads(script(keys=[self.versions_key], args=args))
                    epoch, versions = str(answer["epoch"]), {str(k): int(v) for k, v in answer["versions"].items()}
                except (redis.RedisError, OSError) as exc:
                    self._failed("publish", exc)
                    with self._cond:
                        self._pending |= tables  # sent with the next attempt (a set: stays small)
                        self._sending = False
                        self._cond.notify_all()
                    if self._stopping.wait(backoff):
                        return
                    backoff = min(backoff * 2, BACKOFF_MAX)
                    continue
                self.published += 1
                merged = self.shared.merge(epoch, versions)
                if not self.shared.published(tables, upto, epoch, versions) or merged is None:
                    self._resync.set()  # Redis is in another epoch than our copy: the subscriber reads it again
                backoff = BACKOFF_FIRST
                self._recovered("publish")
                with self._cond:
                    self._sending = False
                    self._cond.notify_all()
        finally:
            client.close()

    # -- subscribing -------------------------------------------------------------------------------------------

    def apply(self, data: bytes | str) -> bool:
        """Raise the shared versions to a message's and bump the tables of another process's message; False for
        this process's own or an unreadable one."""
        try:
            message = json.loads(data)
            boot, tables = message["boot"], [str(t) for t in message["tables"]]
            epoch, raw = message.get("epoch"), message.get("versions")
            versions = None if raw is None else {str(k): int(v) for k, v in raw.items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            log.debug("HTTP cache stamps: unreadable message %r", data)
            return False
        if versions is not None and isinstance(epoch, str):
            if self.shared.merge(epoch, versions) is None:
                self._resync.set()
        elif boot != self.boot and tables:
            self.on_commit(frozenset(tables))  # a previous release's message: its versions are raised on its behalf
        if boot == self.boot:
            return False
        httpcache.bump(tables)
        self.applied += 1
        return True

    def _sync(self, script: Any) -> None:
        """Read the whole hash into ``shared`` (after subscribing: nothing published since can be missed)."""
        asked = time.monotonic()
        epoch, flat = script(keys=[self.versions_key], args=[secrets.token_hex(8)])
        fields = {_text(k): _text(v) for k, v in zip(flat[::2], flat[1::2], strict=True)}
        fields.pop("@epoch", None)
        changed = self.shared.reset(_text(epoch), {k: int(v) for k, v in fields.items()})
        if changed:
            httpcache.bump(changed)  # kept and remember follow the shared versions
        self.shared.fresh_until = asked + httpcache.LEASE
        self.syncs += 1

    def _subscribe_loop(self) -> None:
        backoff = BACKOFF_FIRST
        while not self._stopping.is_set():
            client = self._client()
            sync = client.register_script(SYNC_LUA)
            pubsub = client.pubsub()
            pings: collections.deque[float] = collections.deque()  # when each unanswered PING was sent
            next_ping = float("inf")  # no PING before the first sync
            try:
                pubsub.subscribe(self.channel)
                while not self._stopping.is_set():
                    now = time.monotonic()
                    if now >= next_ping:
                        pubsub.ping(LEASE_TOKEN)
                        pings.append(now)
                        next_ping = now + PING_EVERY
                    message: dict[str, Any] | None = pubsub.get_message(timeout=max(0.0, min(1.0, next_ping - now)))
                    if message is None:
                        pass
                    elif message["type"] == "subscribe":  # Redis confirmed: from now on nothing is missed
                        if "subscribe" in self._failing:
                            httpcache.bump([httpcache.EVERYTHING])  # whatever was published meanwhile is lost
                        self._resync.clear()
                        self._sync(sync)  # ... and what was published before is in the hash
                        next_ping = time.monotonic()
                        self._recovered("subscribe")
                        backoff = BACKOFF_FIRST
                        self.subscribed.set()
                    elif message["type"] == "pong" and message["data"] == LEASE_TOKEN and pings:
                        # every message published before that PING has been applied: the copy is complete up to it
                        self.shared.fresh_until = pings.popleft() + httpcache.LEASE
                    elif message["type"] == "message":
                        self.apply(message["data"])
                    if self._resync.is_set() and self.subscribed.is_set():
                        self._resync.clear()
                        self._sync(sync)
            except (redis.RedisError, OSError) as exc:
                self.subscribed.clear()
                self.shared.desync()
                self._failed("subscribe", exc)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
            finally:
                self.subscribed.clear()
                self.shared.desync()
                with contextlib.suppress(Exception):
                    pubsub.close()
                with contextlib.suppress(Exception):
                    client.close()

    # -- Redis and its failures --------------------------------------------------------------------------------

    def _client(self) -> redis.Redis:
        # Short timeouts: the threads must notice a dead server; the health check PINGs an idle subscription. No
        # retries inside redis-py: a silent reconnection would hide that messages were missed (see _subscribe_loop).
        return redis.Redis.from_url(
            self.url,
            socket_timeout=5.0,
            socket_connect_timeout=1.0,
            health_check_interval=15,
            retry=Retry(NoBackoff(), 0),
            client_name=f"crm-stamps-{self.boot}",  # CLIENT LIST tells whose connection it is
        )

    def _failed(self, part: str, exc: Exception) -> None:
        self.failures += 1
        with self._cond:
            first = not self._failing
            self._failing.add(part)
        if first:
            log.warning(
                "HTTP cache stamps: Redis unavailable (%s); other processes' writes are seen when the %d s window "
                "turns, until it is back (retrying with backoff)",
                exc,
                httpcache.WINDOW,
            )
        else:
            log.debug("HTTP cache stamps: Redis still unavailable for %s (%s)", part, exc)

    def _recovered(self, part: str) -> None:
        with self._cond:
            if part not in self._failing:
                return
            self._failing.discard(part)
            back = not self._failing
        if back:
            log.warning("HTTP cache stamps: Redis reachable again; sharing writes between processes")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


_buses: dict[tuple[str, str], tuple[StampsBus, int]] = {}
_registry = threading.Lock()


def acquire(settings: Settings) -> StampsBus | None:
    """This process's bus for the settings' Redis and namespace, started on first use; ``None`` without Redis."""
    if not settings.redis_url:
        return None
    key = (settings.redis_url, settings.redis_namespace)
    with _registry:
        if key in _buses:
            bus, users = _buses[key]
            _buses[key] = (bus, users + 1)
            return bus
        if not _flush_registered:
            _register_flush()
        bus = StampsBus(settings.redis_url, settings.redis_namespace).start()
        _buses[key] = (bus, 1)
        return bus


def release(bus: StampsBus | None) -> None:
    """One user less; the last one stops the bus (app shutdown, ``Runtime.close``, tests)."""
    if bus is None:
        return
    with _registry:
        for key, (known, users) in list(_buses.items()):
            if known is bus:
                if users > 1:
                    _buses[key] = (bus, users - 1)
                    return
                del _buses[key]
                break
        else:
            return
    bus.stop()


_flush_registered = False


def _register_flush() -> None:
    global _flush_registered
    _flush_registered = True
    atexit.register(_flush_all)


def _flush_all() -> None:
    """At exit: the buses' daemon threads still run, so give what is pending a moment to reach Redis."""
    for bus, _users in list(_buses.values()):
        bus.flush(FLUSH_AT_EXIT_SECONDS)
