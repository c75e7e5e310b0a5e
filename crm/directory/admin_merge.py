"""The merge pages: find the other record by searching, compare both field by field and choose, merge; each merge's
page with both records' values as they were, and its undo (30 days).

Why its own module and URLs (``/admin/merge/…``, ``/admin/merges/…``): the choosing, the fingerprint that refuses a
stale form and the undo make a flow of their own; it replaces the older "keep one, fill the gaps" routes (their
compare address in ``admin_contacts`` now redirects here).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.directory import merge, merge_undo
from crm.directory import merge_fields as fields
from crm.directory.errors import DirectoryError
from crm.errors import NotFound
from crm.web.areas import admin_area
from crm.web.deps import DB, CurrentUser, Ext
from crm.web.forms import FormBody
from crm.web.pages import is_htmx

NOUNS = {"organisations": "organisation", "contacts": "contact"}


def _entity(kind: str) -> str:
    if kind not in NOUNS:
        raise NotFoundException("No such record type.")
    return NOUNS[kind]


def _record(db: Session, entity: str, record_id: int | None) -> Any:
    return db.get(fields.model_for(entity), record_id) if record_id else None


def _page(
    db: Session,
    kind: str,
    a_id: int | None,
    b_id: int | None,
    *,
    q: str = "",
    error: str = "",
    status: int = 200,
    chosen: dict[str, str] | None = None,
) -> Template:
    """The search (one record known) or the comparison (both), with ``error`` above it when something was refused."""
    entity = _entity(kind)
    a, b = _record(db, entity, a_id), _record(db, entity, b_id)
    context: dict[str, Any] = {"kind": kind, "entity": entity, "a": a, "b": b, "q": q, "error": error}
    if (a_id and a is None) or (b_id and b is None):
        missing = a_id if a is None else b_id
        context.update(
            error=f"There is no {entity} number {missing}: it may have been merged or deleted.", a=None, b=None
        )
        return Template("admin/merge_compare.html", context=context, status_code=404)
    if a is not None and b is not None and a.id != b.id:
        rows, stamp = fields.comparison(db, entity, a.id, b.id)
        if chosen:  # a refused form keeps what the person chose
            rows = [dataclasses.replace(r, chosen=chosen.get(r.field, r.chosen)) for r in rows]
        context.update(rows=rows, stamp=stamp)
    elif a is not None:
        context.update(b=None, candidates=fields.candidates(db, entity, a.id, q))
    return Template("admin/merge_compare.html", context=context, status_code=status)


@get("/merge/{kind:str}", sync_to_thread=False)
def admin_merge_compare(
    request: Request[Any, Any, Any],
    db: DB,
    kind: FromPath[str],
    a: FromQuery[int | None] = None,
    b: FromQuery[int | None] = None,
    q: FromQuery[str] = "",
) -> Template:
    entity = _entity(kind)
    if a is None:
        return _page(db, kind, None, None, error="Open the merge from a record's page.", status=400)
    if a == b:
        return _page(
            db, kind, a, None, q=q, error=f"A record cannot be merged with itself: choose another {entity}.", status=400
        )
    if b is None and is_htmx(request.headers) and _record(db, entity, a) is not None:
        return Template(
            "admin/_merge_candidates.html",
            context={"kind": kind, "a_id": a, "q": q, "candidates": fields.candidates(db, entity, a, q)},
        )
    return _page(db, kind, a, b, q=q)


@post("/merge/{kind:str}", sync_to_thread=False)
def admin_merge_apply(db: DB, ext: Ext, user: CurrentUser, kind: FromPath[str], data: FormBody) -> Template | Redirect:
    entity = _entity(kind)
    ids = [_int(data.get(k)) for k in ("a", "b")]
    a_id, b_id = ids
    keep_id = _int(data.get("keep"))
    chosen = {f: str(data.get(f"f_{f}", "")) for f, _ in fields.fields_for(entity) if data.get(f"f_{f}")}
    if a_id is None or b_id is None or keep_id not in ids:
        return _page(db, kind, a_id, b_id, error="Choose which record to keep.", status=400, chosen=chosen)
    drop_id = b_id if keep_id == a_id else a_id
    apply = merge.merge_organisations if entity == "organisation" else merge.merge_contacts
    try:
        apply(db, ext, user, keep_id, drop_id, chosen, str(data.get("stamp", "")))
    except merge.StaleMerge as exc:
        return _page(db, kind, a_id, b_id, error=str(exc), status=409)
    except DirectoryError as exc:
        db.rollback()  # a refusal can come half-way (a clash found after the fields were set): none of it stays
        return _page(db, kind, a_id, b_id, error=str(exc), status=400, chosen=chosen)
    return Redirect(f"/admin/{kind}/{keep_id}?notice=merged", status_code=303)


def _int(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


@get("/merges", sync_to_thread=False)
def admin_merges(db: DB, kind: FromQuery[str], record: FromQuery[int]) -> Template:
    entity = _entity(kind)
    return Template(
        "admin/merges.html",
        context={
            "kind": kind,
            "record": _record(db, entity, record),
            "record_id": record,
            "merges": merge_undo.merges_into(db, entity, record),
        },
    )


def _merge_page(db: Session, merge_id: int, *, refused: str = "", status: int = 200, notice: str = "") -> Template:
    try:
        record = merge_undo.get_merge(db, merge_id)
    except NotFound as exc:
        raise NotFoundException(str(exc)) from exc
    entity = record.entity
    rows = [
        (
            fields.label(f),
            fields.shown(db, f, record.data["keep_values"].get(f)),
            fields.shown(db, f, record.data["drop_values"].get(f)),
            fields.shown(db, f, record.data["keep_after"].get(f)),
        )
        for f, _ in fields.fields_for(entity)
    ]
    moved: dict[str, int] = {}
    for name, _pk, _col in record.data.get("moved", []):
        moved[name.replace("_", " ")] = moved.get(name.replace("_", " "), 0) + 1
    context = {
        "merge": record,
        "kind": f"{entity}s",
        "rows": rows,
        "moved": moved,
        "links_moved": len(record.data.get("moved_affiliations", [])),
        "history_moved": len(record.data.get("audit_ids", [])),
        "refusal": merge_undo.undoable(record),
        "until": record.created_at + dt.timedelta(days=merge_undo.UNDO_DAYS),
        "refused": refused,
        "notice": notice,
        "keep_exists": _record(db, entity, record.keep_id) is not None,
    }
    return Template("admin/merge_record.html", context=context, status_code=status)


@get("/merges/{merge_id:int}", sync_to_thread=False)
def admin_merge_record(db: DB, merge_id: FromPath[int], notice: FromQuery[str] = "") -> Template:
    return _merge_page(db, merge_id, notice="The merge was undone." if notice == "undone" else "")


@post("/merges/{merge_id:int}/undo", sync_to_thread=False)
def admin_merge_undo(db: DB, user: CurrentUser, merge_id: FromPath[int]) -> Template | Redirect:
    try:
        merge_undo.undo_merge(db, user, merge_id)
    except NotFound as exc:
        raise NotFoundException(str(exc)) from exc
    except DirectoryError as exc:
        db.rollback()
        return _merge_page(db, merge_id, refused=str(exc), status=400)
    except IntegrityError:
        db.rollback()  # a clash with something made since the merge: nothing of the undo stays
        refused = "The merge could not be undone: something made since clashes with what it would bring back."
        return _merge_page(db, merge_id, refused=refused, status=409)
    return Redirect(f"/admin/merges/{merge_id}?notice=undone", status_code=303)


route_handlers: list[Any] = admin_area(
    "/admin",
    [admin_merge_compare, admin_merge_apply, admin_merges, admin_merge_record, admin_merge_undo],
)
