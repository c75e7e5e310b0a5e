"""Heavy work leaves the web process: a small pool of worker processes at a lower CPU priority (issue 21.2).

Why not the thread pool: CPU-bound Python in a thread of the web process holds the GIL, and the event loop gives the
GIL up at every socket and SQLite call and then waits up to a switch interval to get it back (the convoy effect), so
``GET /organisations`` beside four heavy requests had p99 213–223 ms with every heavy handler already in threads
(docs/architecture.md, "Heavy requests"). A worker process has a GIL of its own, and runs at ``NICE``, so the kernel
gives the core to the web process whenever a visitor's request needs it.

- Lazily started (nothing runs until the first heavy request), ``WORKERS`` processes, ``spawn`` start method: a child
  inherits no lock, engine, connection or thread from the web process.
- Each child builds one engine per database (``Settings.database_url``) the first time it needs it and keeps it; every
  call gets a fresh session, always rolled back (the work here only reads: writes stay in the request's session).
- What is sent and returned is pickled: module-level functions, plain arguments, plain results.
- A child that dies (killed, out of memory, a crash in C) breaks the pool: every waiting request gets a 503 with a
  clear message at once (never a hang), and the next request starts a fresh pool. A call taking longer than
  ``TIMEOUT`` seconds gets the same 503 and its pool is torn down (a stuck child cannot hold a lane forever).
- Shut down at interpreter exit (``atexit``); an app may also call ``shutdown`` from its ``on_shutdown``.
- Tests that count statements run the work in their own process instead (``in_this_process``): a counter on the app's
  engine never sees a worker's SQL, so an N+1 there would pass unseen.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import multiprocessing
import os
import pickle
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException
from litestar.response import Template

from crm.settings import Settings
from crm.web.errors import TITLES, problem, wants_json

T = TypeVar("T")
WORKERS = 2  # two lanes: a long export does not queue a preview behind it; more would only share the same cores
NICE = 10  # weight 110 against the web process's 1024: it gets ~90% of a shared core when it wants it
TIMEOUT = 600.0  # seconds one call may take before its pool is torn down
UNAVAILABLE = "The background worker stopped before it was done."  # the 503 page's heading says what failed
TOO_SLOW = "This took too long and was stopped. Please try a smaller selection or file."

log = logging.getLogger("crm.offload")
_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_here: dict[str, Any] | None = None  # tests only (``in_this_process``): database URL -> this process's session factory


class HeavyWorkFailed(HTTPException):
    """The worker process died or the call ran out of time: 503 with a message people can act on."""

    status_code = 503


def heavy_failure_handler(request: Request[Any, Any, Any], exc: HeavyWorkFailed) -> Response[Any]:
    """The 503 page (or problem JSON) with what happened: the app's handler words every 5xx as an unexpected error,
    and this one is expected and worth retrying. Handlers that offload pass ``exception_handlers=EXCEPTION_HANDLERS``.
    """
    log.warning("heavy work failed on %s %s: %s", request.method, request.url.path, exc.detail, exc_info=exc)
    headers = {"Retry-After": "10"}
    if wants_json(request):
        response = problem(503, exc.detail, instance=request.url.path)
        response.headers.update(headers)
        return response
    return Template(
        "errors/error.html",
        context={"status": 503, "title": TITLES[503], "detail": exc.detail},
        status_code=503,
        media_type=MediaType.HTML,
        headers=headers,
    )


EXCEPTION_HANDLERS: dict[type[Exception], Any] = {HeavyWorkFailed: heavy_failure_handler}


def _executor() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(
                max_workers=WORKERS,
                mp_context=multiprocessing.get_context("spawn"),
                # os.nice itself (a builtin, nothing to import): the child steps back before it imports the app
                initializer=os.nice,
                initargs=(NICE,),
            )
        return _pool


def _discard(pool: ProcessPoolExecutor, *, kill: bool = False) -> None:
    """Forget a broken (or stuck) pool so the next call starts a fresh one; ``kill`` stops its children first."""
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    if kill:  # the executor has no public way to stop a running call: end its processes, the pool then breaks
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def shutdown(grace: float = 10.0) -> None:
    """Stop the pool (at app shutdown / interpreter exit): queued calls are cancelled, running ones get ``grace``
    seconds to finish, then their processes are killed (a stuck worker never holds up a deploy). A later call starts
    a new pool."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is None:
        return
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + grace
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join(5.0)  # reaped: is_alive() is False once this returns (a test checks it at once)


atexit.register(shutdown)


def started() -> ProcessPoolExecutor | None:
    """The running pool, if any (tests check that calls reuse it)."""
    return _pool


async def run_heavy(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in a worker process; the event loop waits without blocking. ``fn`` is a module-level
    function; arguments and result are pickled. Its own exceptions are raised here as they were there."""
    if _here is not None:  # tests only: here, in a thread, with what a worker would get and give back
        fn, args, kwargs = pickle.loads(pickle.dumps((fn, args, kwargs)))
        return pickle.loads(pickle.dumps(await asyncio.to_thread(fn, *args, **kwargs)))
    pool = _executor()
    try:
        future: Future[T] = pool.submit(fn, *args, **kwargs)
    except BrokenProcessPool:  # broke between our calls: start again once
        _discard(pool)
        pool = _executor()
        future = pool.submit(fn, *args, **kwargs)
    try:
        return await asyncio.wait_for(asyncio.wrap_future(future), TIMEOUT)
    except BrokenProcessPool as exc:
        _discard(pool)
        raise HeavyWorkFailed(detail=UNAVAILABLE) from exc
    except TimeoutError as exc:
        _discard(pool, kill=True)
        raise HeavyWorkFailed(detail=TOO_SLOW) from exc


# ------------------------------------------------------------------------------------------------ in the child

_factories: dict[str, Any] = {}


def _session_factory(settings: Settings) -> Any:
    """The child's session factory for this database, built once and kept (one engine per database per child)."""
    if _here is not None:
        return _here[settings.database_url]
    factory = _factories.get(settings.database_url)
    if factory is None:
        from crm.db import create_db_engine, create_session_factory

        factory = _factories[settings.database_url] = create_session_factory(create_db_engine(settings))
    return factory


def in_session(settings: Settings, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    """Runs in the child: ``fn(session, *args, **kwargs)`` in a fresh session that is rolled back afterwards."""
    session = _session_factory(settings)()
    try:
        return fn(session, *args, **kwargs)
    finally:
        session.rollback()
        session.close()


async def run_in_session(settings: Settings, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``fn(session, *args, **kwargs)`` in a worker process, with that worker's session on ``settings``'s database.
    For reading: the session is rolled back afterwards."""
    return await run_heavy(in_session, settings, fn, args, kwargs)


async def paged_stream(settings: Settings, fn: Callable[..., tuple[bytes, Any]], *args: Any) -> AsyncIterator[bytes]:
    """A download made page by page in a worker: ``fn(session, *args, after)`` returns ``(bytes, next_after)``, with
    ``after=None`` for the first page and ``next_after=None`` after the last. The first page is fetched before this
    returns, so a failure there is the response (a 503 page), not a broken download; a failure later ends the body
    early. Memory stays one page; no worker is held between pages (a slow reader keeps none busy)."""
    first, after = await run_in_session(settings, fn, *args, None)

    async def pages() -> AsyncIterator[bytes]:
        nonlocal after
        yield first
        while after is not None:
            chunk, after = await run_in_session(settings, fn, *args, after)
            if chunk:
                yield chunk

    return pages()


# ------------------------------------------------------------------------------------------------ tests only


@contextlib.contextmanager
def in_this_process(factories: dict[str, Any]) -> Iterator[None]:
    """Tests only: ``run_heavy`` calls its function in this process (in a thread, arguments and result still pickled)
    and ``run_in_session`` gives it a session of ``factories[settings.database_url]``, the app's own. A statement
    counter on the app's engine then sees the SQL a worker would have run: in a worker it saw none of it, and an N+1
    in an offloaded export or report passed every count. Production never enters this (no setting turns it on)."""
    global _here
    before, _here = _here, dict(factories)
    try:
        yield
    finally:
        _here = before
