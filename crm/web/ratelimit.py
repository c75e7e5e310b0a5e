"""A small sliding-window rate limiter for sign-in, subscribe and RSVP endpoints.

In-process by design: the embedded default runs one web process; behind several web replicas each replica
limits independently, which still bounds abuse to N x the limit (recorded in docs/architecture.md).
"""

from __future__ import annotations

import threading
import time
from collections import deque


class RateLimiter:
    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, limit: int, window_seconds: float, now: float | None = None) -> bool:
        """Record a hit for ``key`` and say whether it is within ``limit`` per ``window_seconds``."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - window_seconds:
                hits.popleft()
            if len(hits) >= limit:
                return False
            hits.append(now)
            if len(self._hits) > 50_000:  # bound memory under a flood of distinct keys
                self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - window_seconds}
            return True

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
