"""CRM_REDIS_URL in one process: settings, the store registry and the Redis rate limiter's rules."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore

from crm.app import create_app
from crm.settings import Settings, SettingsError
from crm.web.ratelimit import RateLimiter, RedisRateLimiter, build_rate_limiter
from crm.web.stores import build_stores
from tests.deploy.conftest import REDIS_TEST_URL, forget_namespace, redis_or_skip


@pytest.fixture
def namespace() -> str:
    return f"crm-test-{secrets.token_hex(6)}"


@pytest.fixture
def redis_client(namespace: str):
    client = redis_or_skip()
    yield client
    forget_namespace(client, namespace)
    client.close()


def test_settings_read_the_redis_variables_and_refuse_a_wrong_scheme_without_echoing_it():
    settings = Settings.from_env({"CRM_REDIS_URL": "redis://cache:6379/2", "CRM_REDIS_NAMESPACE": "site-a"})
    assert (settings.redis_url, settings.redis_namespace) == ("redis://cache:6379/2", "site-a")
    assert Settings.from_env({}).redis_url == ""
    with pytest.raises(SettingsError, match="CRM_REDIS_URL must start with redis://") as refused:
        Settings(redis_url="http://user:hunter2@cache:6379").validate()
    assert "hunter2" not in str(refused.value)
    with pytest.raises(SettingsError, match="port that is not a number"):
        Settings(redis_url="redis://:hunter2@cache:63 79/0").validate()
    with pytest.raises(SettingsError, match="a database number"):
        Settings(redis_url="redis://cache:6379/zero").validate()
    with pytest.raises(SettingsError, match="CRM_REDIS_NAMESPACE"):
        Settings(redis_namespace="has space").validate()
    assert Settings(redis_url="unix:///run/redis.sock?db=2").validate().redis_url


def test_a_bad_redis_url_is_one_clear_line_from_the_command_line():
    result = subprocess.run(
        [sys.executable, "-m", "crm.cli", "db", "check"],
        capture_output=True,
        text=True,
        env={**os.environ, "CRM_REDIS_URL": "redis://:hunter2@cache:port/0"},
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "crm: configuration error: CRM_REDIS_URL has a port that is not a number"


def test_without_redis_the_app_keeps_todays_in_process_state(app):
    assert type(app.state.rate_limiter) is RateLimiter
    assert isinstance(app.stores.get("anything"), MemoryStore)


def test_with_redis_every_store_lives_in_the_apps_namespace(database, namespace, redis_client):
    settings = database.settings.replace(redis_url=REDIS_TEST_URL, redis_namespace=namespace)
    first, second = create_app(settings), create_app(settings)  # two processes' worth of apps
    other = create_app(settings.replace(redis_namespace=namespace + "-other"))
    try:
        store = first.stores.get("answers")
        assert isinstance(store, RedisStore) and store.namespace == f"{namespace}_answers"
        assert isinstance(first.state.rate_limiter, RedisRateLimiter)
        assert first.state.rate_limiter.prefix == f"{namespace}_ratelimit:"

        async def exchange() -> tuple[bytes | None, bytes | None]:
            await store.set("page", b"kept", expires_in=60)
            seen = await second.stores.get("answers").get("page")
            unseen = await other.stores.get("answers").get("page")
            for app in (first, second, other):
                await app.stores.get("answers")._redis.aclose()  # type: ignore[attr-defined]
            return seen, unseen

        # In a thread of its own: an earlier test may leave an event loop on this thread (asyncio.run refuses then).
        with ThreadPoolExecutor(max_workers=1) as pool:
            assert pool.submit(asyncio.run, exchange()).result() == (b"kept", None)
    finally:
        for app in (first, second, other):
            app.state.rate_limiter.close()
            app.state.engine.dispose()
        forget_namespace(redis_client, namespace + "-other")


def test_redis_limiter_is_one_window_for_every_process_and_keeps_no_address_in_clear(namespace, redis_client):
    a = RedisRateLimiter(REDIS_TEST_URL, f"{namespace}_ratelimit")
    b = RedisRateLimiter(REDIS_TEST_URL, f"{namespace}_ratelimit")
    key = "sign-in:email:someone@example.org"
    assert [a.allow(key, 3, 0.6), b.allow(key, 3, 0.6), a.allow(key, 3, 0.6)] == [True, True, True]
    assert not b.allow(key, 3, 0.6) and not a.allow(key, 3, 0.6)
    assert b.allow("sign-in:email:other@example.org", 3, 0.6)  # another key, another window
    stored = [k.decode() for k in redis_client.scan_iter(match=f"{namespace}*")]
    assert len(stored) == 2 and all(k.startswith(f"{namespace}_ratelimit:sign-in:") for k in stored)
    assert not any("example.org" in k for k in stored)
    assert 0 < redis_client.pttl(a.redis_key(key)) <= 600  # gone with its window
    time.sleep(0.7)
    assert a.allow(key, 3, 0.6)  # the window slid on
    a.reset()
    assert list(redis_client.scan_iter(match=f"{namespace}*")) == []
    a.close()
    b.close()


def test_redis_limiter_races_for_the_last_place_are_won_once(namespace, redis_client):
    limiters = [RedisRateLimiter(REDIS_TEST_URL, f"{namespace}_ratelimit") for _ in range(4)]

    # Plain threads started together (not asyncio.run: an earlier test may leave an event loop on this thread).
    start = threading.Barrier(len(limiters) * 5)

    def hit(limiter: RedisRateLimiter) -> bool:
        start.wait()
        return limiter.allow("subscribe:ip:1", 5, 60)

    with ThreadPoolExecutor(max_workers=len(limiters) * 5) as pool:
        results = list(pool.map(hit, limiters * 5))
    assert sum(results) == 5
    for limiter in limiters:
        limiter.close()


def test_unreachable_redis_falls_back_to_the_process_window_instead_of_failing(caplog):
    limiter = build_rate_limiter(Settings(redis_url="redis://127.0.0.1:1/0"), "crm_ratelimit")
    assert isinstance(limiter, RedisRateLimiter)
    assert [limiter.allow("add-group:1.2.3.4", 2, 3600) for _ in range(3)] == [True, True, False]
    assert "Redis unavailable" in caplog.text
    assert caplog.text.count("Redis unavailable") == 1  # then it waits before asking Redis again
    limiter.close()


def test_store_registry_without_redis_is_memory():
    stores = build_stores(Settings())
    assert isinstance(stores.get("x"), MemoryStore) and stores.get("x") is stores.get("x")
    assert build_rate_limiter(Settings(), None).__class__ is RateLimiter
