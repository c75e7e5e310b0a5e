"""Saving and deleting a saved view from beside an admin list's filters; both go back to the list."""

from __future__ import annotations

from typing import Any

from litestar import post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from crm.errors import FieldErrors, NotFound
from crm.views_saved import saved
from crm.web.areas import admin_area
from crm.web.auth import editor_guard
from crm.web.deps import DB, CurrentUser
from crm.web.forms import FormBody


@post("/", status_code=200, sync_to_thread=False)
def save_view(db: DB, user: CurrentUser, data: FormBody) -> Template | Redirect:
    list_key = str(data.get("list", ""))
    try:
        view = saved.save(db, user, list_key, str(data.get("name", "")), str(data.get("query", "")))
    except FieldErrors as exc:
        # "Back to the list" returns to the filters that were being saved (it went to the bare list and lost them).
        back = saved.LISTS.get(list_key, "/admin")
        filters = saved.clean_query(str(data.get("query", ""))) if list_key in saved.LISTS else ""
        return Template(
            "admin/saved_view_refused.html",
            context={"messages": list(exc.errors.values()), "back": f"{back}?{filters}" if filters else back},
            status_code=422,
        )
    return Redirect(f"{saved.LISTS[view.list_key]}?{view.query}", status_code=303)


@post("/{view_id:int}/delete", status_code=200, sync_to_thread=False)
def delete_view(db: DB, user: CurrentUser, view_id: FromPath[int]) -> Redirect:
    try:
        list_key = saved.delete(db, user, view_id)
    except NotFound as exc:
        raise NotFoundException(str(exc)) from exc
    return Redirect(saved.LISTS.get(list_key, "/admin"), status_code=303)


route_handlers: list[Any] = admin_area("/admin/saved-views", [save_view, delete_view], guard=editor_guard)
