"""The fellow's import history under /admin/imports: every import batch (directory and funding calls), its page
(who, when, which file, counts, what it changed old → new, its bad rows) and the undo button (30 days)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from crm import models as m
from crm.imports import batches, undo, wording
from crm.listing import ListParams
from crm.web.areas import admin_area
from crm.web.deps import DB, CurrentUser, Ext
from crm.web.pages import get_or_404, list_page

SHOWN_CHANGES = 500
ENTITY_PAGES = {
    "organisation": "/admin/organisations/{}",
    "contact": "/admin/contacts/{}",
    "affiliation": "/admin/contacts/{}",
    "funding_call": "/admin/funding-calls/{}",
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@get("/", sync_to_thread=False)
def import_batches(request: Request[Any, Any, Any], db: DB) -> Template:
    params = ListParams.from_query(dict(request.query_params), filter_names=list(batches.LIST_FILTERS))
    context = {
        "page": batches.list_page(db, params),
        "params": params,
        "sorts": batches.LIST_SORTS,
        "kinds": batches.KINDS,
        "days": batches.UNDO_DAYS,
    }
    return list_page(request, "admin/import_batches.html", "admin/import_batches_results.html", context)


def _batch_page(
    db: Session, batch_id: int, *, just_undone: bool = False, refusal: str = "", status_code: int = 200
) -> Template:
    batch = get_or_404(db, m.ImportBatch, batch_id, "No such import.")
    changes = batches.changes(db, batch.id, SHOWN_CHANGES)
    return Template(
        "admin/import_batch.html",
        context={
            "batch": batch,
            "kinds": batches.KINDS,
            "changes": changes,
            "shown": wording.describe(db, changes),
            "total_changes": batches.change_count(db, batch.id),
            "refusal": refusal or batches.undo_refusal(batch, _now()),
            "until": batches.undo_until(batch),
            "pages": ENTITY_PAGES,
            "just_undone": just_undone,
            "refused": refusal,
        },
        status_code=status_code,
    )


@get("/{batch_id:int}", sync_to_thread=False)
def import_batch(db: DB, batch_id: FromPath[int], undone: FromQuery[str] = "") -> Template:
    return _batch_page(db, batch_id, just_undone=undone == "1")


# Heavy at scale: Litestar runs it in its thread pool, off the event loop (architecture.md, Heavy requests).
@post("/{batch_id:int}/undo", sync_to_thread=True)
def import_batch_undo(db: DB, user: CurrentUser, ext: Ext, batch_id: FromPath[int]) -> Template | Redirect:
    get_or_404(db, m.ImportBatch, batch_id, "No such import.")
    try:
        undo.undo(db, user, batch_id, ext, now=_now())
    except undo.UndoRefused as exc:
        return _batch_page(db, batch_id, refusal=exc.errors["batch"], status_code=409)
    return Redirect(f"/admin/imports/{batch_id}?undone=1", status_code=303)


route_handlers: list[Any] = admin_area("/admin/imports", [import_batches, import_batch, import_batch_undo])
