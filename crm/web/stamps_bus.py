"""HTTP cache stamps shared through Redis (issue 21.3): a write committed by one process bumps every process.

``crm.httpcache`` keeps each table's version in process, so a request's ETag costs no query and no round trip.
Alone, a process learns of another's writes only when the 60-second window turns. With ``CRM_REDIS_URL`` set,
every process (web, worker, CLI) runs one ``StampsBus``:

- **Publish**: ``crm.httpcache`` calls ``on_commit`` with the tables of every committed write of this process.
  It only adds them to a pending set; a publisher thread sends them, several commits' tables as one message when
  they come faster than Redis answers (a digest run commits thousands of batches), so a write never waits on
  Redis and never fails because of it. Message: ``{"boot": <httpcache.BOOT>, "tables": [...]}`` on the channel
  ``<CRM_REDIS_NAMESPACE>:httpcache-stamps`` (two deployments sharing a Redis never bump each other).
- **Subscribe**: a daemon thread listens on the channel and calls ``httpcache.bump(tables)`` for messages of
  *other* processes (its own boot is skipped; ``bump`` does not publish, so nothing echoes). A request still
  reads the versions from memory: no Redis round trip on the request path.
- **Redis unreachable**: a warning is logged once (and "reachable again" once it is), writes and requests go on
  with the window as the bound, and both threads reconnect with backoff (0.5 s doubling to 30 s). After a
  reconnection the subscriber bumps everything once, since messages sent meanwhile were missed (pub/sub keeps
  nothing). The window stays the safety net for anything else lost.

One bus per process and Redis namespace (``acquire``/``release`` count users): ``crm run`` with the embedded
worker has the app and the worker's ``Runtime`` in one process, and must not publish every write twice. What the
bus does not share: the ETag's ``BOOT`` prefix, so a tag issued by one process is still only a 304 at that
process (docs/deploy.md).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import threading
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from crm import httpcache
from crm.settings import Settings

log = logging.getLogger(__name__)

CHANNEL = "httpcache-stamps"
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0  # seconds between reconnection attempts, doubling
FLUSH_AT_EXIT_SECONDS = 1.0  # a CLI command that wrote and exits at once still tells the others


class StampsBus:
    """Publishes this process's committed tables and applies other processes' (see the module docstring)."""

    def __init__(self, url: str, namespace: str, boot: str = httpcache.BOOT) -> None:
        self.url, self.boot = url, boot
        self.channel = f"{namespace}:{CHANNEL}"
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
        for name, target in (("publish", self._publish_loop), ("subscribe", self._subscribe_loop)):
            thread = threading.Thread(target=target, name=f"crm-stamps-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening and publishing (what is pending gets one last attempt)."""
        with contextlib.suppress(ValueError):
            httpcache.committed_listeners.remove(self.on_commit)
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
        """``crm.httpcache.committed_listeners``: note the tables, wake the publisher. Never blocks on Redis."""
        with self._cond:
            self._pending |= tables
            self._cond.notify_all()

    def encode(self, tables: set[str]) -> str:
        return json.dumps({"boot": self.boot, "tables": sorted(tables)})

    def _publish_loop(self) -> None:
        client = self._client()
        backoff = BACKOFF_FIRST
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: bool(self._pending) or self._stopping.is_set())
                    if not self._pending:
                        return  # stopping, nothing left
                    tables, self._pending, self._sending = self._pending, set(), True
                try:
                    client.publish(self.channel, self.encode(tables))
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
                backoff = BACKOFF_FIRST
                self._recovered("publish")
                with self._cond:
                    self._sending = False
                    self._cond.notify_all()
        finally:
            client.close()

    # -- subscribing -------------------------------------------------------------------------------------------

    def apply(self, data: bytes | str) -> bool:
        """Bump the tables of another process's message; False for this process's own or an unreadable one."""
        try:
            message = json.loads(data)
            boot, tables = message["boot"], [str(t) for t in message["tables"]]
        except (ValueError, KeyError, TypeError):
            log.debug("HTTP cache stamps: unreadable message %r", data)
            return False
        if boot == self.boot:
            return False
        httpcache.bump(tables)
        self.applied += 1
        return True

    def _subscribe_loop(self) -> None:
        backoff = BACKOFF_FIRST
        while not self._stopping.is_set():
            client = self._client()
            pubsub = client.pubsub()
            try:
                pubsub.subscribe(self.channel)
                while not self._stopping.is_set():
                    message: dict[str, Any] | None = pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":  # Redis confirmed: from now on nothing is missed
                        if "subscribe" in self._failing:
                            httpcache.bump([httpcache.EVERYTHING])  # whatever was published meanwhile is lost
                        self._recovered("subscribe")
                        backoff = BACKOFF_FIRST
                        self.subscribed.set()
                    elif message["type"] == "message":
                        self.apply(message["data"])
            except (redis.RedisError, OSError) as exc:
                self.subscribed.clear()
                self._failed("subscribe", exc)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
            finally:
                self.subscribed.clear()
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
