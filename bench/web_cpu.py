"""The per-request CPU split of bench/web.py: where an anonymous request's CPU goes, layer by layer (the database
driver, SQLAlchemy building and compiling statements, SQLAlchemy executing and making rows, our code, templates,
Litestar and the ASGI plumbing), for the JSON list, the HTML list and a 304.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

LAYERS = (
    ("sqlite3", ("sqlite3.",)),
    ("SA types", ("sqlalchemy/sql/sqltypes", "sqlalchemy/sql/type_api", "/crm/models/")),  # values out of rows
    ("SA build", ("sqlalchemy/sql/",)),  # building, cache keys, compiling
    ("SA execute", ("sqlalchemy/",)),  # connections, sessions, results
    ("our code", ("/crm/",)),
    ("templates", ("jinja2/", "<template>", "/templates/", "markupsafe")),
    ("Litestar+ASGI", ("litestar/", "anyio/", "asyncio/", "msgspec", "starlette/")),
)


def _layer(filename: str, function: str) -> str:
    where = filename if filename != "~" else function
    for layer, marks in LAYERS:
        if any(mark in where for mark in marks):
            return layer
    return "other"


def cpu_split(db: Path, secret: str, targets: dict[str, str], runs: int = 300) -> dict[str, Any]:
    """Where a request's CPU goes, by layer: ``runs`` anonymous requests of each kind straight into the ASGI app
    (no sockets, no wrk), timed without a profiler (process CPU time per request), then again under cProfile,
    each function's own time counted in the layer of its file; the shares are applied to the unprofiled cost.
    cProfile inflates call-heavy code, so the split is a guide to where time goes."""
    import asyncio
    import cProfile
    import pstats

    from crm.app import create_app
    from crm.settings import Settings

    app = create_app(
        Settings(env="test", database_url=f"sqlite:///{db}", secret_keys=(secret,), run_worker_in_process=False)
    )

    async def call(url: str, headers: list[tuple[bytes, bytes]]) -> list[Any]:
        path, _, query = url.partition("?")
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
            "headers": [(b"host", b"127.0.0.1"), *headers], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
        }  # fmt: skip
        sent: list[Any] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return sent

    async def profile(url: str, headers: list[tuple[bytes, bytes]]) -> dict[str, float]:
        for _ in range(20):
            await call(url, headers)  # warm: statements compiled, templates loaded, menus cached
        started = time.process_time()
        for _ in range(runs):
            await call(url, headers)
        cpu_us = (time.process_time() - started) / runs * 1e6  # without the profiler: the real cost
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(runs):
            await call(url, headers)
        profiler.disable()
        split = {layer: 0.0 for layer, _ in LAYERS} | {"other": 0.0}
        for (filename, _, function), (_, _, own, _, _) in pstats.Stats(profiler).stats.items():  # type: ignore[attr-defined]
            split[_layer(filename, function)] += own
        total = sum(split.values()) or 1.0
        return {layer: own / total * cpu_us for layer, own in split.items()}  # the profile's shares of the real cost

    whole = [(b"cache-control", b"no-cache")]  # past the store of public answers: the whole path

    async def all_splits() -> dict[str, dict[str, float]]:
        splits = {
            "JSON list, whole path": await profile(targets["JSON list p1"], whole),
            "HTML list, whole path": await profile(targets["HTML list p1"], whole),
            "JSON list, stored": await profile(targets["JSON list p1"], []),
        }
        first = await call(targets["JSON list p1"], [])  # the tag now: the window may have turned meanwhile
        tag = dict(first[0]["headers"])[b"etag"]
        splits["JSON list, 304"] = await profile(targets["JSON list p1"], [(b"if-none-match", tag)])
        return splits

    try:
        return {"runs": runs, "split": asyncio.run(all_splits())}
    finally:
        app.state.engine.dispose()
