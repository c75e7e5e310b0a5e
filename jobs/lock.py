"""Only one active scheduler at a time: a PostgreSQL advisory lock, or a file lock beside an SQLite database.

A worker that does not hold the lock waits and takes over when the holder's connection (or process) dies; while it
waits it is a standby on SQLite and, on PostgreSQL, runs the work shared by workers (``jobs.worker``).

**The holder checks that it still holds the lock** (issue 21.3). On PostgreSQL the lock belongs to one session:
if that connection is cut while the process lives (a PostgreSQL restart or failover, ``pg_terminate_backend``, a
network drop), the server frees the lock and another worker takes it. So the holder asks, every
``CHECK_SECONDS``, on the lock's own connection, whether its backend still holds the advisory key in ``pg_locks``;
an error or a missing row means the lock is lost (``still_held``). The connection is a dedicated one (not the
pool's) with a statement timeout and a TCP user timeout of ``CHECK_TIMEOUT_SECONDS``, so a check on a dead network
fails within that bound instead of hanging, and it is named ``crm scheduler lock`` in ``pg_stat_activity``.

Who takes the lock waits ``TAKEOVER_GRACE_SECONDS`` (longer than one check interval plus one check's timeout)
before it leads: a holder that lost its lock has noticed and stepped down by then, so two leaders never run
jobs at once (short of a process frozen for longer than the grace, e.g. SIGSTOP; the jobs survive even that:
docs/deploy.md). On SQLite the lock is ``flock`` on a file this process keeps open: it cannot be lost while the
process lives, so there is no check and no grace.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

log = logging.getLogger("crm.jobs.lock")

ADVISORY_KEY = 0x43524D5343484544  # "CRMSCHED"
ADVISORY_KEY = ADVISORY_KEY - (1 << 64) if ADVISORY_KEY >= (1 << 63) else ADVISORY_KEY
APPLICATION_NAME = "crm scheduler lock"

CHECK_SECONDS = 2.0  # how often the holder checks its lock (one read of pg_locks, one round trip: 4-6 ms at load 10)
CHECK_TIMEOUT_SECONDS = 3.0  # a check that has not answered by then has failed (statement and TCP timeouts)
TAKEOVER_GRACE_SECONDS = CHECK_SECONDS + CHECK_TIMEOUT_SECONDS + 1.0  # a lost holder has stepped down by then

# pg_locks shows a bigint advisory key as two oids (high and low 32 bits) and objsubid 1.
_HELD = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted "
    "AND classid::bigint = :hi AND objid::bigint = :lo AND objsubid = 1"
)


def _lock_engine(engine: Engine) -> Engine:
    """A connection of its own for the lock (never returned to a pool, where another user could unlock it or a
    pre-ping could replace it), with timeouts that bound a check on a dead network."""
    timeout_ms = int(CHECK_TIMEOUT_SECONDS * 1000)
    return create_engine(
        engine.url,
        poolclass=NullPool,
        isolation_level="AUTOCOMMIT",  # a check is one round trip (no transaction to end); the lock is the session's
        connect_args={
            "application_name": APPLICATION_NAME,
            "options": f"-c statement_timeout={timeout_ms}",
            "connect_timeout": max(1, int(CHECK_TIMEOUT_SECONDS)),
            "tcp_user_timeout": timeout_ms,  # unacknowledged data for this long: the socket errors (libpq >= 12)
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 2,
        },
    )


class SchedulerLock:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock_engine: Engine | None = None
        self._conn: Connection | None = None
        self._file: IO[str] | None = None

    @property
    def can_be_lost(self) -> bool:
        """Whether the lock can go while this process lives (PostgreSQL: with its session; SQLite: never)."""
        return self.engine.dialect.name == "postgresql"

    def try_acquire(self) -> bool:
        if self.engine.dialect.name == "postgresql":
            if self._lock_engine is None:
                self._lock_engine = _lock_engine(self.engine)
            try:
                conn = self._lock_engine.connect()
            except Exception as exc:  # the database is unreachable: not held, try again at the next poll
                log.warning("scheduler lock: cannot connect to the database (%s)", exc)
                return False
            try:
                got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar())
                conn.commit()
            except Exception as exc:
                log.warning("scheduler lock: could not ask for the lock (%s)", exc)
                got = False
            if got:
                self._conn = conn
            else:
                with contextlib.suppress(Exception):
                    conn.close()
            return got
        path = Path(self.engine.url.database or "var/crm.sqlite3").with_suffix(".scheduler.lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    def still_held(self) -> bool:
        """Ask the lock's own session whether it still holds the key (PostgreSQL); any error means lost. A file
        lock is held as long as this process keeps the file open."""
        if self._file is not None:
            return True
        if self._conn is None:
            return False
        hi, lo = (ADVISORY_KEY >> 32) & 0xFFFFFFFF, ADVISORY_KEY & 0xFFFFFFFF
        try:
            held = self._conn.execute(_HELD, {"hi": hi, "lo": lo}).scalar() == 1
            self._conn.commit()
        except Exception as exc:
            log.warning("scheduler lock: the check failed (%s)", str(exc).splitlines()[0] if str(exc) else exc)
            return False
        return held

    def release(self) -> None:
        """Let go (unlock, close the session); safe to call after the lock was lost."""
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            with contextlib.suppress(Exception):
                self._conn.close()  # NullPool: the session ends, so the server frees the lock if the unlock failed
            self._conn = None
        if self._lock_engine is not None:
            self._lock_engine.dispose()
            self._lock_engine = None
        if self._file is not None:
            with contextlib.suppress(Exception):
                fcntl.flock(self._file, fcntl.LOCK_UN)
                self._file.close()
            self._file = None


def _announce_standby() -> None:
    log.warning("another worker holds the scheduler lock; waiting as a standby")


def wait_for_lock(
    lock: SchedulerLock, poll_seconds: float = 5.0, on_wait: Callable[[], None] = _announce_standby
) -> None:
    """Block until ``lock`` is held. ``on_wait`` runs once, the first time the lock is found held (before the
    first wait), so the caller can say what it does meanwhile (a standby, or a worker that runs shared work)."""
    announced = False
    while not lock.try_acquire():
        if not announced:
            on_wait()
            announced = True
        time.sleep(poll_seconds)


@contextlib.contextmanager
def hold_scheduler_lock(
    engine: Engine, poll_seconds: float = 5.0, wait: bool = True, on_wait: Callable[[], None] = _announce_standby
) -> Iterator[bool]:
    """Yield True once this process holds the lock; with ``wait=False`` yield False instead of waiting.

    ``on_wait`` as in ``wait_for_lock``. The lock is not checked while held: a caller that leads (``jobs.worker``)
    uses ``SchedulerLock.still_held`` itself."""
    lock = SchedulerLock(engine)
    if not lock.try_acquire():
        if not wait:
            yield False
            return
        on_wait()
        time.sleep(poll_seconds)
        wait_for_lock(lock, poll_seconds, on_wait=lambda: None)  # announced above, once
    try:
        yield True
    finally:
        lock.release()
