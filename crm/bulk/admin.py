"""The bulk-action forms under the admin lists (``crm.bulk.kinds``): POST the selection and an action; a change to
more than 100 records first shows a confirmation page (the count and the first names), an export answers the CSV
of the selection, a change shows what it did with a link back to the list. One handler per list, made here."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from typing import Any

from litestar import post
from litestar.response import Stream, Template
from litestar.utils.sync import sync_to_thread
from sqlalchemy.orm import Session

from crm.accounts.principal import Principal
from crm.bulk import actions, kinds
from crm.bulk.kinds import Kind, Scope
from crm.directory import export
from crm.errors import FieldErrors
from crm.web import offload
from crm.web.areas import admin_area
from crm.web.deps import DB, AppSettings, CurrentUser
from crm.web.downloads import CSV, download_stream
from crm.web.forms import FormBody


def _refused(kind: Kind, form: dict[str, Any], message: str) -> Template:
    return Template(
        "admin/bulk_done.html",
        context={"kind": kind, "message": message, "back": _back(kind, form), "refused": True},
        status_code=422,
    )


def _back(kind: Kind, form: dict[str, Any]) -> str:
    query = str(form.get("query", ""))[:4000]
    return f"{kind.url}?{query}" if query else kind.url


EXPORT_PAGE_IDS = 5000  # ids per page of a selection's CSV; a multiple of selection_rows's 1,000 per statement


def selection_csv_page(session: Session, key: str, ids: list[int], after: int | None) -> tuple[bytes, int | None]:
    """One page of a selection's CSV, made in a worker process (``crm.web.offload.paged_stream``): the list is named
    by its key in ``kinds.KINDS`` (a kind carries functions, which do not pickle). Organisations and contacts are
    their list's export keyed on id; the other lists are ``selection_rows`` over ``EXPORT_PAGE_IDS`` ids at a time
    (``after`` is the index of the next id), which reads the same 1,000-id statements in the same order as the whole
    selection at once, so the pages joined are byte for byte the CSV of ``selection_rows`` over every id."""
    kind = kinds.KINDS[key]
    if kind is kinds.ORGANISATIONS:
        return export.organisation_csv_page(session, actions.list_params(kind, ""), False, ids, after)
    if kind is kinds.CONTACTS:
        return export.contact_csv_page(session, actions.list_params(kind, ""), ids, after)
    start = after or 0
    rows = actions.selection_rows(session, kind, ids[start : start + EXPORT_PAGE_IDS])
    if start:
        next(rows)  # the header, once, on the first page
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    end = start + EXPORT_PAGE_IDS
    return buffer.getvalue().encode(), (end if end < len(ids) else None)


@dataclasses.dataclass(frozen=True, slots=True)
class _Export:
    """What ``_run`` answers for an export: the selection, made into CSV by the async handler in a worker."""

    ids: list[int]
    filename: str


def _run(kind: Kind, db: Session, user: Principal, settings: Any, form: dict[str, Any]) -> Template | _Export:
    action = str(form.get("action", ""))
    if action not in kind.actions:
        return _refused(kind, form, "Choose an action.")
    try:
        selection = actions.select_records(db, kind, form, Scope(dt.datetime.now(dt.UTC), settings, user))
        if action == "export":
            filename = f"{kind.plural.replace(' ', '-')}-selection.csv"
            return _Export(selection.ids, filename)
        if actions.needs_confirmation(action, selection, bool(form.get("confirm"))):
            fields = {k: v for k, v in form.items() if k not in {"_csrf_token", "confirm"}}
            return Template(
                "admin/bulk_confirm.html",
                context={"kind": kind, "selection": selection, "action": kind.actions[action], "fields": fields,
                         "back": _back(kind, form)},
            )  # fmt: skip
        if action in {"archive", "restore"}:
            archive = action == "archive"
            n = actions.set_archived(db, user, kind, selection, archive=archive, now=dt.datetime.now(dt.UTC))
            done = "archived" if archive else "restored from the archive"
            message = f"{n} of {selection.count} {kind.plural} {done}."
        elif action == "close":
            n = actions.close_opportunities(db, user, selection, now=dt.datetime.now(dt.UTC))
            message = f"{n} of {selection.count} {kind.plural} closed: their pages stay and say so."
            if n < selection.count:
                message += " Only published ones close; the others were left as they were."
        elif action == "add_to_list":
            n = actions.add_to_contact_list(db, user, selection, form.get("list"))
            message = f"{n} of {selection.count} contacts added to the list ({selection.count - n} were in it already)."
        else:
            add = action == "add_topic"
            n = actions.change_topic(db, user, kind, selection, form.get("topic"), add=add)
            done = "now have the topic" if add else "no longer have the topic"
            message = f"{n} of {selection.count} {kind.plural} changed: they {done}."
    except FieldErrors as exc:
        return _refused(kind, form, " ".join(exc.errors.values()))
    return Template("admin/bulk_done.html", context={"kind": kind, "message": message, "back": _back(kind, form)})


def _handler(key: str, kind: Kind) -> Any:
    # Thousands of records at once: the selection and any change in Litestar's thread pool in the request's session
    # (it commits with the request); an export's CSV in a worker process (architecture.md, Heavy requests).
    @post(
        f"{kind.url.removeprefix('/admin')}/bulk",
        status_code=200,
        name=f"bulk-{key}",
        exception_handlers=offload.EXCEPTION_HANDLERS,
    )
    async def bulk(db: DB, user: CurrentUser, settings: AppSettings, data: FormBody) -> Template | Stream:
        outcome = await sync_to_thread(_run, kind, db, user, settings, data)
        if isinstance(outcome, _Export):
            pages = await offload.paged_stream(settings, selection_csv_page, key, outcome.ids)
            return download_stream(pages, CSV, outcome.filename)
        return outcome

    return bulk


route_handlers: list[Any] = admin_area("/admin", [_handler(key, kind) for key, kind in kinds.KINDS.items()])
