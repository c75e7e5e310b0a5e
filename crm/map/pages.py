"""The public map (``/map``): where partners, calls, events and internships are, region by region."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, get
from litestar.response import Template

from crm.map import figures, tilemap
from crm.web.deps import DB

QUERY = ("measure", "topic", "scale")


def map_context(request: Request[Any, Any, Any], db: Any, *, admin: bool) -> dict[str, Any]:
    """What the public and the admin map pages show (both render templates/_map.html)."""
    query = {name: request.query_params.get(name) for name in QUERY}
    view = figures.map_view(db, query, admin=admin, now=dt.datetime.now(dt.UTC))
    return {
        "view": view,
        "svg": tilemap.tile_map(view),
        "swatch": tilemap.swatch,
        "rate_text": tilemap.rate_text,
        "scales": figures.SCALES,
    }


@get("/map", sync_to_thread=False, include_in_schema=False)
def public_map(request: Request[Any, Any, Any], db: DB) -> Template:
    return Template("public/map.html", context=map_context(request, db, admin=False))


route_handlers: list[Any] = [public_map]
