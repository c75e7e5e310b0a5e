"""Sliding-window rate limits for sign-in, subscribe, RSVP and the other public forms.

Two implementations with one interface (``allow(key, limit, window_seconds)``, ``reset()``):

- ``RateLimiter``, in process: the embedded default (one web process, no Redis to run). Behind N web processes
  each limits on its own, so abuse is bounded by N x the limit.
- ``RedisRateLimiter``, when ``CRM_REDIS_URL`` is set: one limit for every process. A hit is one Lua script
  (trim the window, count, add) run atomically by Redis on Redis's own clock, so two processes racing for the
  last place cannot both get it, and machines with skewed clocks agree. Keys live in the ``ratelimit`` store's
  namespace (``crm.web.stores``) and hold a hash of the limited key, never an email address in clear.

Why not ``RedisStore.get``/``set`` for the count: that is a read then a write (two processes can both read 9 of
10 and both pass), and the store is async while our handlers are synchronous on the event loop (docs/
architecture.md), so the limiter uses redis-py's synchronous client for its one round trip (~0.1 ms locally).
If Redis cannot be reached the limiter falls back to the in-process window for ``RETRY_AFTER`` seconds and logs
it: forms keep working with per-process limits (today's behaviour) instead of answering 500.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections import deque

import redis

from crm.settings import Settings

log = logging.getLogger(__name__)

RETRY_AFTER = 5.0  # seconds on the in-process window after Redis failed, before trying Redis again

# KEYS[1] the window's sorted set; ARGV: limit, window in ms, a unique member. Scores are Redis's clock in ms
# (13 digits: exact in Lua's doubles and in the %.14g it formats numbers with).
_SLIDING_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 1
"""


class RateLimiter:
    """In-process sliding window: one per web process."""

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


class RedisRateLimiter:
    """The same window shared by every process through Redis, in the key namespace ``namespace``."""

    def __init__(self, url: str, namespace: str) -> None:
        self.prefix = f"{namespace}:"
        self._client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script = self._client.register_script(_SLIDING_WINDOW)
        self._fallback = RateLimiter()
        self._down_until = 0.0

    def redis_key(self, key: str) -> str:
        """``<namespace>:<form>:<hash>``: which form is readable for whoever looks at Redis, not who used it."""
        form = key.split(":", 1)[0]
        return f"{self.prefix}{form}:{hashlib.blake2b(key.encode(), digest_size=16).hexdigest()}"

    def allow(self, key: str, limit: int, window_seconds: float, now: float | None = None) -> bool:
        """Record a hit for ``key`` and say whether it is within ``limit`` per ``window_seconds`` across every
        process. ``now`` only steers the in-process fallback: Redis keeps its own time."""
        if time.monotonic() >= self._down_until:
            try:
                window_ms = max(1, int(window_seconds * 1000))
                allowed = self._script(keys=[self.redis_key(key)], args=[limit, window_ms, secrets.token_hex(8)])
                return bool(allowed)
            except redis.RedisError as exc:
                self._down_until = time.monotonic() + RETRY_AFTER
                log.warning("rate limits: Redis unavailable (%s); limiting in this process for now", exc)
        return self._fallback.allow(key, limit, window_seconds, now)

    def reset(self) -> None:
        """Forget every hit in this namespace (tests and the browser suite start from an empty window)."""
        self._fallback.reset()
        keys = list(self._client.scan_iter(match=f"{self.prefix}*", count=500))
        if keys:
            self._client.delete(*keys)

    def close(self) -> None:
        self._client.close()


def build_rate_limiter(settings: Settings, namespace: str | None) -> RateLimiter | RedisRateLimiter:
    """In process without Redis; shared through Redis (in ``namespace``) when ``CRM_REDIS_URL`` is set."""
    if settings.redis_url and namespace:
        return RedisRateLimiter(settings.redis_url, namespace)
    return RateLimiter()
