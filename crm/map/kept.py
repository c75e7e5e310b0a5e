"""Figures kept for a few minutes once they are expensive: a measure that took longer than ``SLOW`` seconds to count
more than ``LARGE`` rows (open internships or calls at the million-row scale take 0.2-1.6 s on SQLite, docs/map.md)
is answered from memory for ``KEEP_SECONDS``, and the page says when it was counted. Small measures are never
kept, however slow the machine, so what the fellow just changed shows at once wherever the data is small (and in
every test).

Per process (each web worker keeps its own), keyed by database URL, measure, audience and topic; a lock keeps two
threads from filling one entry twice. Exact figures every time would need stored tallies refreshed by a job (a
table, so a migration): docs/map.md says what that would take.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Callable

from crm.map.measures import Counts

KEEP_SECONDS = 300.0
LARGE = 10_000  # rows counted ...
SLOW = 0.05  # ... and seconds taken, both above which a measure's figures are kept


@dataclasses.dataclass(frozen=True)
class Kept:
    counts: Counts
    as_of: dt.datetime  # when they were counted
    at: float  # time.monotonic() then


_kept: dict[tuple[object, ...], Kept] = {}
_lock = threading.Lock()


def counts(
    key: tuple[object, ...], compute: Callable[[], Counts], *, now: dt.datetime
) -> tuple[Counts, dt.datetime | None]:
    """``compute()``'s figures, or ones kept under ``key`` less than KEEP_SECONDS ago; the second value is when
    kept figures were counted (None when they are fresh)."""
    hit = _kept.get(key)
    if hit is not None and time.monotonic() - hit.at < KEEP_SECONDS:
        return hit.counts, hit.as_of
    with _lock:
        hit = _kept.get(key)
        if hit is not None and time.monotonic() - hit.at < KEEP_SECONDS:
            return hit.counts, hit.as_of
        started = time.monotonic()
        fresh = compute()
        if total(fresh) > LARGE and time.monotonic() - started > SLOW:
            _kept[key] = Kept(fresh, now, time.monotonic())
        return fresh, None


def total(c: Counts) -> int:
    return sum(c.by_region.values()) + c.national + c.unplaced


def forget() -> None:
    """Drop every kept figure (tests; a command could call it after a bulk import)."""
    with _lock:
        _kept.clear()
