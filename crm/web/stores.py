"""Where the app keeps process-level state: in memory, or in Redis when ``CRM_REDIS_URL`` is set (issue 21.3).

Several web processes (uvicorn ``--workers``, replicas behind a proxy) only act as one site if what they remember
between requests lives in one place. Litestar's stores are that place: ``app.stores.get(name)`` is a
``MemoryStore`` per process without Redis (today's behaviour, nothing to run) and a ``RedisStore`` in the
namespace ``<CRM_REDIS_NAMESPACE>_<name>`` with it, so two deployments, or two test runs, can share one Redis
server without reading each other's keys. The rate limits (``crm.web.ratelimit``) live in the ``ratelimit``
store's namespace.
"""

from __future__ import annotations

from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from litestar.stores.registry import StoreRegistry
from redis.asyncio import Redis

from crm.settings import Settings

RATE_LIMIT_STORE = "ratelimit"
ROOT_STORE = "root"  # registered at start-up so Litestar's lifespan closes the one shared client at shutdown


def build_stores(settings: Settings) -> StoreRegistry:
    """The app's store registry: memory per process, or Redis namespaced by ``settings.redis_namespace``."""
    if not settings.redis_url:
        return StoreRegistry(default_factory=lambda _name: MemoryStore())
    # Short timeouts: a store that hangs would hang every request that waits on it.
    client = Redis.from_url(settings.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
    root = RedisStore(client, namespace=settings.redis_namespace, handle_client_shutdown=True)

    def named(name: str) -> RedisStore:
        store = root.with_namespace(name)
        store.handle_client_shutdown = False  # the root store closes the shared client, once
        return store

    return StoreRegistry({ROOT_STORE: root}, default_factory=named)


def redis_namespace(stores: StoreRegistry, name: str) -> str | None:
    """The Redis key namespace of the store ``name`` (``None`` when the stores are in memory): code that needs
    Redis itself (the rate limiter's atomic script) writes its keys where that store would."""
    store = stores.get(name)
    return store.namespace if isinstance(store, RedisStore) else None
