"""Only one active scheduler at a time: a PostgreSQL advisory lock, or a file lock beside an SQLite database.

A worker that does not hold the lock waits and takes over when the holder's connection (or process) dies; while it
waits it is a standby on SQLite and, on PostgreSQL, runs the work shared by workers (``jobs.worker``).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import Engine, text

log = logging.getLogger("crm.jobs.lock")

ADVISORY_KEY = 0x43524D5343484544  # "CRMSCHED"
ADVISORY_KEY = ADVISORY_KEY - (1 << 64) if ADVISORY_KEY >= (1 << 63) else ADVISORY_KEY


class SchedulerLock:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn = None
        self._file = None

    def try_acquire(self) -> bool:
        if self.engine.dialect.name == "postgresql":
            conn = self.engine.connect()
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar())
            conn.commit()
            if got:
                self._conn = conn
            else:
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

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                self._conn.close()
            self._conn = None
        if self._file is not None:
            with contextlib.suppress(Exception):
                fcntl.flock(self._file, fcntl.LOCK_UN)
                self._file.close()
            self._file = None


def _announce_standby() -> None:
    log.warning("another worker holds the scheduler lock; waiting as a standby")


@contextlib.contextmanager
def hold_scheduler_lock(
    engine: Engine, poll_seconds: float = 5.0, wait: bool = True, on_wait: Callable[[], None] = _announce_standby
) -> Iterator[bool]:
    """Yield True once this process holds the lock; with ``wait=False`` yield False instead of waiting.

    ``on_wait`` runs once, the first time the lock is found held (before the first wait), so the caller can say
    what it does meanwhile (a standby, or a worker that runs shared work) and start doing it."""
    lock = SchedulerLock(engine)
    announced = False
    while not lock.try_acquire():
        if not wait:
            yield False
            return
        if not announced:
            on_wait()
            announced = True
        time.sleep(poll_seconds)
    try:
        yield True
    finally:
        lock.release()
