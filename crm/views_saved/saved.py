"""Saved views: a user's named sets of filters on an admin list. Saving a name again replaces its filters, so a
view is kept up to date by saving it again; a view is only ever seen, opened or deleted by the user who saved it."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.principal import Principal
from crm.errors import FieldErrors, NotFound

# The admin lists that offer saved views, and where each one is.
LISTS = {
    "organisations": "/admin/organisations",
    "contacts": "/admin/contacts",
    "subscribers": "/admin/subscribers",
    "partnerships": "/admin/partnerships",
    "funding-calls": "/admin/funding-calls",
    "events": "/admin/events",
    "internships": "/admin/internships",
    "involvement-opportunities": "/admin/involvement",
}
MAX_PER_LIST = 50


def views_for(session: Session, actor: Principal, list_key: str) -> list[Any]:
    """``(id, name, query)`` of the user's views of one list, by name: one statement."""
    if actor.id <= 0:
        return []
    v = m.SavedView
    return list(
        session.execute(
            select(v.id, v.name, v.query).where(v.user_id == actor.id, v.list_key == list_key).order_by(v.name)
        )
    )


def clean_query(query: str) -> str:
    """The list's filters without the page it was on (a view opens at its first page)."""
    pairs = [(k, val) for k, val in parse_qsl(query[:2000]) if k not in {"cursor", "_csrf_token"}]
    return urlencode(pairs)[:2000]


def save(session: Session, actor: Principal, list_key: str, name: str, query: str) -> m.SavedView:
    """Save (or, for a name the user already has on this list, replace) a view."""
    name = " ".join(name.split())
    errors: dict[str, str] = {}
    if list_key not in LISTS:
        errors["list"] = "This list has no saved views."
    if not name:
        errors["name"] = "Give the view a name."
    elif len(name) > 100:
        errors["name"] = "A view's name is at most 100 characters."
    if actor.id <= 0:
        errors["name"] = "Sign in as a user to save views."
    if errors:
        raise FieldErrors(errors)
    v = m.SavedView
    view = session.scalar(select(v).where(v.user_id == actor.id, v.list_key == list_key, v.name == name))
    if view is None:
        if len(views_for(session, actor, list_key)) >= MAX_PER_LIST:
            raise FieldErrors({"name": f"You have {MAX_PER_LIST} views of this list: delete one first."})
        view = v(user_id=actor.id, list_key=list_key, name=name)
        session.add(view)
    view.query = clean_query(query)
    session.flush()
    return view


def delete(session: Session, actor: Principal, view_id: int) -> str:
    """Delete one of the user's views; the list it was on. Another user's view is not found."""
    view = session.get(m.SavedView, view_id)
    if view is None or view.user_id != actor.id:
        raise NotFound("No such saved view.")
    session.delete(view)
    session.flush()
    return view.list_key
