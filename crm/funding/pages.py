"""Public funding pages: the list of open calls, a call's page and its deadlines as a calendar file."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy.orm import Session

from crm import filter_choices
from crm import models as m
from crm.accounts.principal import Principal
from crm.calendar import CalendarEvent, build_calendar
from crm.funding import fit, queries
from crm.funding.feed import calls_feed
from crm.funding.views import now as _now
from crm.listing import ListParams
from crm.web.deps import DB, AppSettings, CurrentUser
from crm.web.downloads import ATOM, calendar_type, download
from crm.web.pages import list_page


@get("/funding-calls", sync_to_thread=False)
def public_list(request: Request[Any, Any, Any], db: DB) -> Template:
    asked = ListParams.from_query(request.query_params.dict(), filter_names=queries.PUBLIC_FILTERS)
    now = _now()
    unknown = queries.unknown_filters(db, asked)  # left out, and said so (crm.filter_choices)
    params = filter_choices.without_unknown(asked, unknown)
    problems = queries.filter_problems(params.filters)
    page = queries.list_calls(db, params, now=now, public=True, count=True)
    context = {
        "page": page,
        "params": params,
        "asked": asked,  # the form's: "Clear filters" shows for an unknown filter too
        "unknown": filter_choices.page_messages(unknown),
        "sorts": page.sorts,
        "now": now,
        "problems": problems,
        "suits_label": fit.SUITS_LABEL,
        "suits_reason": fit.SUITS_REASON,
        "suits": fit.call_suits,
        "type_words": fit.type_words,
    }
    return list_page(
        request,
        "public/funding_list.html",
        "public/funding_results.html",
        context,
        page_only=lambda: queries.filter_choices(db),
    )


def _public_call(db: Session, slug: str, user: Principal | None) -> m.FundingCall:
    call = queries.load_call(db, slug=slug)
    if call is None or (call.status == m.CallStatus.DRAFT and user is None):
        raise NotFoundException("There is no funding call at this address.")
    return call


@get("/funding-calls/feed.xml", sync_to_thread=False)
def public_feed(db: DB, settings: AppSettings) -> Response[bytes]:
    """Open calls as an Atom feed, newest first (linked from the list page)."""
    now = _now()
    return download(calls_feed(queries.feed_calls(db, now), base_url=settings.base_url, now=now), ATOM)


@get("/funding-calls/{slug:str}", sync_to_thread=False)
def public_call(db: DB, user: CurrentUser, slug: FromPath[str]) -> Template:
    call = _public_call(db, slug, user)
    now = _now()
    return Template(
        "public/funding_call.html",
        context={
            "call": call,
            "now": now,
            "open": queries.is_open(call, now),
            "upcoming": queries.upcoming_deadlines(call, now),
            "fit_facts": fit.facts(call),
            "suits": fit.call_suits(call),
            "suits_label": fit.SUITS_LABEL,
            "suits_reason": fit.SUITS_REASON,
        },
    )


@get("/funding-calls/{slug:str}/deadline.ics", sync_to_thread=False)
def public_call_ics(db: DB, user: CurrentUser, settings: AppSettings, slug: FromPath[str]) -> Response[bytes]:
    """One VEVENT per deadline still ahead (or every deadline once the call has closed)."""
    call = _public_call(db, slug, user)
    now = _now()
    # UIDs follow the deadline's position in the call (1 = earliest), so they stay the same when the call is
    # edited (deadline rows are rewritten on save) and a re-download updates the same calendar entries.
    numbered = list(enumerate(call.deadlines, start=1))
    upcoming = [(n, d) for n, d in numbered if d.due_at > now]
    host = settings.base_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    page = f"{settings.base_url.rstrip('/')}/funding-calls/{call.slug}"
    events = [
        CalendarEvent(
            uid=f"funding-call-{call.id}-deadline-{n}@{host}",
            summary=f"Deadline: {call.title} ({d.label})" if d.label else f"Deadline: {call.title}",
            starts_at=d.due_at - dt.timedelta(minutes=30),
            description=f"{call.funder.name}. {d.label} deadline. Details: {page}",
            url=page,
        )
        for n, d in (upcoming or numbered)
    ]
    body = build_calendar(events, now=now, name=call.title)
    return download(body, calendar_type(), f"{call.slug[:60]}-deadline.ics")


route_handlers: list[Any] = [public_list, public_feed, public_call, public_call_ics]
