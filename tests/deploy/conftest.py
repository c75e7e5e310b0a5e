"""Redis for the shared-state tests: a test database number of its own, and a clean skip when none answers."""

from __future__ import annotations

import os

import pytest
import redis

# Database 13 of the local Redis unless CRM_TEST_REDIS_URL says otherwise; every test also takes its own
# namespace, so parallel runs never share keys.
REDIS_TEST_URL = os.environ.get("CRM_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def redis_or_skip() -> redis.Redis:
    """A client for the test Redis, or a skip that says why (no server: the in-process tests still run)."""
    client = redis.Redis.from_url(REDIS_TEST_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        pytest.skip(f"Redis not reachable at {REDIS_TEST_URL} ({exc}); start it or set CRM_TEST_REDIS_URL")
    return client


def forget_namespace(client: redis.Redis, namespace: str) -> None:
    keys = list(client.scan_iter(match=f"{namespace}*", count=500))
    if keys:
        client.delete(*keys)
