"""One rule for a list filter whose value is not on its menu (``?topic=zzz``, ``?region=atlantis``, an old kind).

Such values come from old emailed links and bookmarks: a topic renamed or removed, a region slug that changed.
The public lists used to apply them anyway (no results, and the menu showing "Any topic") or drop them without a
word. Every public list now asks ``unknown_choices`` which values its menus do not offer, and:

* the **page ignores** each unknown value and says so beside its menu and above the results (``page_message``).
  Ignoring is kindest: the person still sees the list they were after, narrowed by every filter that still means
  something, and the message names what they chose and why it was left out, so nothing happens silently. Showing
  no results (the other choice) makes them work out which of several filters is to blame, and "Clear filters"
  throws away the good ones too. The same on every list.
* the **JSON API refuses** the request with a 422 problem naming the filter (``api_message``): a program that
  sends a slug it should not is better told than given an answer to a question it did not ask (the funding API
  treats a bad amount the same way).

``known_slugs`` reads the slugs of topics or regions (or checks one organisation's) kept in process until the
table is written or the window turns (``crm.httpcache.kept``), so checking a filter costs no statement on a warm
process and one when cold, and never one for a list without that filter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.httpcache import kept
from crm.listing import ListParams


@dataclasses.dataclass(frozen=True, slots=True)
class Menu:
    """A filter a list offers as a menu: its query name (``topic``), the noun people read (``topic``) and the
    values the menu offers. ``known`` may be a callable returning them, so a list reads them only when the filter
    is used."""

    name: str
    noun: str
    known: Collection[str] | Any
    plural: str = ""  # the noun for several, when it is not noun + "s"


@dataclasses.dataclass(frozen=True, slots=True)
class Unknown:
    """Values of one filter that its menu does not offer; ``kept_any``: other values of it were kept (a filter that
    takes several, like the internships' topics)."""

    name: str
    noun: str
    values: tuple[str, ...]
    kept_any: bool = False
    plural: str = ""

    @property
    def nouns(self) -> str:
        return self.plural or f"{self.noun}s"

    @property
    def quoted(self) -> str:
        shown = [f"“{v[:40]}”" for v in self.values[:3]]
        if len(self.values) > 3:
            shown.append(f"{len(self.values) - 3} more")
        return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]

    @property
    def page_message(self) -> str:
        """What the page says beside the menu and above the results: what was chosen, and what the list did."""
        one = len(self.values) == 1
        what = f"The {self.noun} {self.quoted} is not one" if one else f"The {self.nouns} {self.quoted} are not ones"
        if self.kept_any:
            return f"{what} we list any more, so we left {'it' if one else 'them'} out of your choices."
        return f"{what} we list any more, so these results are for any {self.noun}."

    @property
    def api_message(self) -> str:
        """The 422 problem's message for ``name``."""
        one = len(self.values) == 1
        return f"{self.quoted} {'is not a ' + self.noun if one else 'are not ' + self.nouns} we list."


def unknown_choices(filters: Mapping[str, Any], menus: Iterable[Menu]) -> dict[str, Unknown]:
    """Filter name -> the values of it the list's menus do not offer (only filters that were given). A menu's
    ``known`` is read only when its filter holds a value."""
    found: dict[str, Unknown] = {}
    for menu in menus:
        raw = filters.get(menu.name)
        given = [str(v).strip() for v in (raw if isinstance(raw, list | tuple) else [raw]) if str(v or "").strip()]
        if not given:
            continue
        known = menu.known() if callable(menu.known) else menu.known
        unknown = tuple(dict.fromkeys(v for v in given if v not in known))
        if unknown:
            kept_any = len(unknown) < len(set(given))
            found[menu.name] = Unknown(menu.name, menu.noun, unknown, kept_any=kept_any, plural=menu.plural)
    return found


def without_unknown(params: ListParams, unknown: Mapping[str, Unknown]) -> ListParams:
    """``params`` with the unknown values left out (a filter that takes several keeps its known ones): what the
    page lists, and what its links (pages, sort) carry on."""
    if not unknown:
        return params
    filters: dict[str, Any] = {}
    for name, value in params.filters.items():
        if name not in unknown:
            filters[name] = value
        elif isinstance(value, list | tuple):
            rest = [v for v in value if str(v).strip() not in unknown[name].values]
            if rest:
                filters[name] = rest
    return dataclasses.replace(params, filters=filters)


def page_messages(unknown: Mapping[str, Unknown]) -> dict[str, str]:
    return {name: u.page_message for name, u in unknown.items()}


def api_messages(unknown: Mapping[str, Unknown]) -> dict[str, str]:
    return {name: u.api_message for name, u in unknown.items()}


def _url(db: Session | Connection) -> str:
    bind = db.get_bind() if isinstance(db, Session) else db.engine
    return str(bind.url)


def known_slugs(db: Session | Connection, model: type[m.Topic] | type[m.Region]) -> frozenset[str]:
    """Every topic's (or region's) slug, kept until the table is written or the window turns."""
    table = model.__tablename__
    return kept(("filter_choices", table, _url(db)), (table,), lambda: frozenset(db.scalars(select(model.slug))))


def topic_slugs(db: Session | Connection) -> Any:
    """``Menu.known`` for topics: read only when the filter is used."""
    return lambda: known_slugs(db, m.Topic)


def region_slugs(db: Session | Connection) -> Any:
    return lambda: known_slugs(db, m.Region)


def organisation_slugs(db: Session | Connection, slug: str) -> Any:
    """``Menu.known`` for a filter naming an organisation by slug (a funder): whether that one exists, kept per
    slug until organisations are written (a menu of thousands is not read for one slug)."""

    def read() -> frozenset[str]:
        found = db.scalar(select(m.Organisation.slug).where(m.Organisation.slug == slug[:200]))
        return frozenset([found] if found else [])

    return lambda: kept(("filter_choices", "organisation", slug[:200], _url(db)), ("organisations",), read)
