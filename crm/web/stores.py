"""Where the app keeps process-level state: in memory, or in Redis when ``CRM_REDIS_URL`` is set (issue 21.3).

Several web processes (uvicorn ``--workers``, replicas behind a proxy) only act as one site if what they remember
between requests lives in one place. Litestar's stores are that place: ``app.stores.get(name)`` is a
``MemoryStore`` per process without Redis (today's behaviour, nothing to run) and a ``RedisStore`` in the
namespace ``<CRM_REDIS_NAMESPACE>_<name>`` with it, so two deployments, or two test runs, can share one Redis
server without reading each other's keys. The rate limits (``crm.web.ratelimit``) live in the ``ratelimit``
store's namespace.

The root store also runs this process's HTTP cache stamps bus (``crm.web.stamps_bus``) while the app lives:
Litestar enters every store registered at start-up as a lifespan context, so the bus starts when a server (or a
``TestClient``) starts the app and stops at its shutdown, rather than when ``create_app`` merely builds one (the
tests build many apps that never serve).
"""

from __future__ import annotations

from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from litestar.stores.registry import StoreRegistry
from redis.asyncio import Redis

from crm.settings import Settings
from crm.web import stamps_bus

RATE_LIMIT_STORE = "ratelimit"
ROOT_STORE = "root"  # registered at start-up so Litestar's lifespan closes the one shared client at shutdown


class RootStore(RedisStore):
    """The namespace's root store; as a lifespan context of the app it also holds the stamps bus."""

    def __init__(self, redis: Redis, namespace: str, settings: Settings) -> None:
        super().__init__(redis, namespace=namespace, handle_client_shutdown=True)
        self.settings = settings
        self.bus: stamps_bus.StampsBus | None = None

    def with_namespace(self, namespace: str) -> RedisStore:
        """A plain ``RedisStore`` below this one, on the shared client (which only the root closes)."""
        return RedisStore(self._redis, namespace=f"{self.namespace}_{namespace}", handle_client_shutdown=False)

    async def __aenter__(self) -> None:
        await super().__aenter__()
        if self.bus is None:
            self.bus = stamps_bus.acquire(self.settings)

    async def __aexit__(self, *exc: object) -> None:
        bus, self.bus = self.bus, None
        stamps_bus.release(bus)
        await super().__aexit__(*exc)  # type: ignore[arg-type]


def build_stores(settings: Settings) -> StoreRegistry:
    """The app's store registry: memory per process, or Redis namespaced by ``settings.redis_namespace``."""
    if not settings.redis_url:
        return StoreRegistry(default_factory=lambda _name: MemoryStore())
    # Short timeouts: a store that hangs would hang every request that waits on it.
    client = Redis.from_url(settings.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
    root = RootStore(client, settings.redis_namespace, settings)
    return StoreRegistry({ROOT_STORE: root}, default_factory=root.with_namespace)


def redis_namespace(stores: StoreRegistry, name: str) -> str | None:
    """The Redis key namespace of the store ``name`` (``None`` when the stores are in memory): code that needs
    Redis itself (the rate limiter's atomic script) writes its keys where that store would."""
    store = stores.get(name)
    return store.namespace if isinstance(store, RedisStore) else None
