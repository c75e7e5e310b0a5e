"""The bulk-action forms under the admin lists (``crm.bulk.kinds``): POST the selection and an action; a change to
more than 100 records first shows a confirmation page (the count and the first names), an export answers the CSV
of the selection, a change shows what it did with a link back to the list. One handler per list, made here."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import post
from litestar.datastructures import State
from litestar.response import Redirect, Stream, Template
from sqlalchemy.orm import Session

from crm.accounts.principal import Principal
from crm.bulk import actions, kinds
from crm.bulk.kinds import Kind, Scope
from crm.directory import export
from crm.directory.views import csv_response
from crm.errors import FieldErrors
from crm.web.areas import admin_area
from crm.web.deps import DB, AppSettings, CurrentUser
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


def _export(kind: Kind, ids: list[int]) -> Any:
    """How the selection's CSV rows are read (in the download's own session)."""
    if kind is kinds.ORGANISATIONS:
        return lambda s: export.organisation_rows(s, actions.list_params(kind, ""), public=False, ids=ids)
    if kind is kinds.CONTACTS:
        return lambda s: export.contact_rows(s, actions.list_params(kind, ""), ids)
    return lambda s: actions.selection_rows(s, kind, ids)


def _run(
    kind: Kind, db: Session, user: Principal, state: State, settings: Any, form: dict[str, Any]
) -> Template | Stream | Redirect:
    action = str(form.get("action", ""))
    if action not in kind.actions:
        return _refused(kind, form, "Choose an action.")
    try:
        selection = actions.select_records(db, kind, form, Scope(dt.datetime.now(dt.UTC), settings, user))
        if action == "export":
            filename = f"{kind.plural.replace(' ', '-')}-selection.csv"
            return csv_response(state, _export(kind, selection.ids), filename)
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
    # Thousands of records at once: in the thread pool, off the event loop (architecture.md, Heavy requests).
    @post(f"{kind.url.removeprefix('/admin')}/bulk", status_code=200, sync_to_thread=True, name=f"bulk-{key}")
    def bulk(
        db: DB, user: CurrentUser, state: State, settings: AppSettings, data: FormBody
    ) -> Template | Stream | Redirect:
        return _run(kind, db, user, state, settings, data)

    return bulk


route_handlers: list[Any] = admin_area("/admin", [_handler(key, kind) for key, kind in kinds.KINDS.items()])
