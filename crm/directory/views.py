"""Web helpers the directory's public pages, admin pages and API share: list parameters, menus, 404s, CSV."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.response import Stream
from sqlalchemy.orm import Session

from crm import models as m
from crm.directory import export
from crm.directory.contacts import get_contact
from crm.directory.organisations import get_organisation
from crm.directory.taxonomy import CAREER_LABELS, CATEGORY_LABELS, KIND_LABELS, all_regions, all_topics
from crm.listing import ListParams
from crm.web.downloads import CSV, download_stream
from crm.web.pages import or_404


def list_params(request: Request[Any, Any, Any], filters: tuple[str, ...]) -> ListParams:
    return ListParams.from_query(request.query_params.dict(), filter_names=filters)


def choices() -> dict[str, Any]:
    """The labels every directory template shows for kinds, categories and career stages."""
    return {"kinds": KIND_LABELS, "categories": CATEGORY_LABELS, "career_stages": CAREER_LABELS}


def menus(db: Session) -> dict[str, Any]:
    """What the directory's filter bars and forms offer: topics, regions and the choice labels."""
    return {"topics": all_topics(db), "regions": all_regions(db), **choices()}


def org_or_404(db: Session, org_id: int) -> m.Organisation:
    """The organisation with its topics, region and parent loaded, or the 404 page."""
    return or_404(get_organisation(db, org_id), "No such organisation.")


def contact_or_404(db: Session, contact_id: int) -> m.Contact:
    """The contact with its topics, regions and affiliations loaded, or the 404 page."""
    return or_404(get_contact(db, contact_id), "No such contact.")


def csv_response(state: State, make_rows: Callable[[Session], Iterable[Any]], filename: str) -> Stream:
    """A CSV download streamed from rows read in a session of its own."""
    return download_stream(export.as_csv_chunks(_streamed(state, make_rows)), CSV, filename)


def _streamed(state: State, make_rows: Callable[[Session], Iterable[Any]]) -> Iterator[Any]:
    """Rows from a session of their own: the request's session is closed before a streamed body is sent."""
    session: Session = state.session_factory()
    try:
        yield from make_rows(session)
    finally:
        session.close()
