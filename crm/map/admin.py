"""The fellow's map (``/admin/map``: adds partnerships by stage and subscribers) and the gaps grid
(``/admin/map/gaps``, with its CSV)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response, get
from litestar.response import Template
from sqlalchemy.orm import Session

from crm.map import gaps
from crm.map.pages import map_context
from crm.web import offload
from crm.web.areas import admin_area
from crm.web.deps import DB, AppSettings
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


def gaps_csv_text(session: Session, sort: str | None) -> str:
    """The gaps grid as CSV, made whole in a worker process: its two statements group every organisation,
    partnership and subscriber by topic and region (architecture.md, Heavy requests)."""
    return gaps.grid_csv(gaps.grid(session, sort=sort))


@get("/gaps.csv", exception_handlers=offload.EXCEPTION_HANDLERS)
async def gaps_csv(request: Request[Any, Any, Any], settings: AppSettings) -> Response[Any]:
    body = await offload.run_in_session(settings, gaps_csv_text, request.query_params.get("sort"))
    return download(body, CSV, f"gaps-{dt.date.today().isoformat()}.csv")


route_handlers: list[Any] = admin_area("/admin/map", [admin_map, gaps_page, gaps_csv])
