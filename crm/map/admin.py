"""The fellow's map (``/admin/map``: adds partnerships by stage and subscribers) and the gaps grid
(``/admin/map/gaps``, with its CSV)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response, get
from litestar.response import Template

from crm.map import gaps
from crm.map.pages import map_context
from crm.web.areas import admin_area
from crm.web.deps import DB
from crm.web.downloads import CSV, download


@get("/", sync_to_thread=False)
def admin_map(request: Request[Any, Any, Any], db: DB) -> Template:
    return Template("admin/map.html", context=map_context(request, db, admin=True))


@get("/gaps", sync_to_thread=False)
def gaps_page(request: Request[Any, Any, Any], db: DB) -> Template:
    grid = gaps.grid(db, sort=request.query_params.get("sort"))
    return Template(
        "admin/map_gaps.html",
        context={"grid": grid, "totals": grid.totals(), "kinds": gaps.GAP_KINDS, "sorts": gaps.SORTS},
    )


@get("/gaps.csv", sync_to_thread=False)
def gaps_csv(request: Request[Any, Any, Any], db: DB) -> Response[Any]:
    grid = gaps.grid(db, sort=request.query_params.get("sort"))
    return download(gaps.grid_csv(grid), CSV, f"gaps-{dt.date.today().isoformat()}.csv")


route_handlers: list[Any] = admin_area("/admin/map", [admin_map, gaps_page, gaps_csv])
