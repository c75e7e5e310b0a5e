"""The public internship pages: the list, a listing (with its JSON-LD), registration of interest, the Atom feed
and the host's "has it been filled?" link. Anyone may use them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from sqlalchemy.orm import Session

from crm import filter_choices
from crm import models as m
from crm.internships import host_pages, hosting, services, views
from crm.internships.alerts import subscribe_url
from crm.internships.feed import atom_feed
from crm.internships.jsonld import job_posting_jsonld
from crm.listing import ListParams
from crm.tokens import TokenError
from crm.web.deps import DB, AppSettings, client_ip
from crm.web.downloads import ATOM, download
from crm.web.forms import Form, FormBody
from crm.web.pages import attempt, form_page, list_page

INTEREST_LIMIT_PER_HOUR = 10


@get("/internships", sync_to_thread=False)
def internship_list(request: Request[Any, Any, Any]) -> Template:
    """No dependency and no transaction: the page only reads, its list and count on a pooled connection
    (``crm.prepared.reading``), its menus kept in process; the session is closed, never committed."""
    asked = ListParams.from_query(
        request.query_params.dict(), filter_names=services.FILTER_NAMES, multi=services.MULTI_FILTERS
    )
    with request.app.state.session_factory() as db:
        unknown = services.unknown_filters(db, asked)  # left out, and said so (crm.filter_choices)
        params = filter_choices.without_unknown(asked, unknown)
        page = services.public_list(db, params, now=views.now(), count=True)
        topics, regions = services.filter_options(db)  # the alert link needs their ids, the full page their names
    filters = services.Filters.from_mapping(params.filters)
    context = {
        **views.common_context(),
        "page": page,
        "params": params,
        "asked": asked,  # the form's: an unknown filter opens "More filters" and shows "Clear filters"
        "unknown": filter_choices.page_messages(unknown),
        "filters": filters,
        "sorts": page.sorts,
        "alert_url": subscribe_url(filters, {t.slug: t.id for t in topics}, {r.slug: r.id for r in regions}),
        "alert": alert_wording(params, filters),
    }
    return list_page(
        request,
        "public/internships.html",
        "public/internship_results.html",
        context,
        page_only=lambda: {"topics": topics, "regions": regions},
    )


def alert_wording(params: ListParams, filters: services.Filters) -> dict[str, str]:
    """The words of the alert link. An alert stores the filters ``subscribe_url`` carries, but no search words and
    no closing date (it is about listings posted later), so when the person has used either the link must not
    promise "this search": it names what the alert covers and says what it leaves out."""
    left_out = [
        words
        for words, used in (
            ("the words you searched for", bool(params.q.strip())),
            ("the closing date", bool(filters.closing_within_weeks)),
        )
        if used
    ]
    if not left_out:
        return {"link": "alerts for this search", "caveat": ""}
    kept = dataclasses.replace(filters, closing_within_weeks=None) != services.Filters()
    link = "alerts for new internships with these filters" if kept else "alerts for every new internship"
    return {"link": link, "caveat": f"Alerts cannot match {' or '.join(left_out)}."}


@get("/internships/feed.xml", sync_to_thread=False)
def internship_feed(db: DB, settings: AppSettings) -> Response[bytes]:
    now = views.now()
    body = atom_feed(services.open_listings(db, now=now), base_url=settings.base_url, now=now)
    return download(body, ATOM)


def _detail_context(db: Session, settings: Any, slug: str, **extra: Any) -> dict[str, Any]:
    detail = services.public_detail(db, slug)
    now = views.now()
    accepting = detail.is_open and detail.internship.closes_at > now
    return {
        **views.common_context(),
        "d": detail,
        "i": detail.internship,
        "accepting": accepting,
        "jsonld": job_posting_jsonld(detail, settings.base_url) if accepting else "",
        "consent_wording": services.CONSENT_WORDING,
        **extra,
    }


@get("/internships/{slug:str}", sync_to_thread=False)
def internship_page(db: DB, settings: AppSettings, slug: FromPath[str]) -> Template:
    return form_page("public/internship.html", _detail_context(db, settings, slug), form=Form({}))


@post("/internships/{slug:str}/interest", sync_to_thread=False)
def register_interest(
    request: Request[Any, Any, Any], state: State, db: DB, settings: AppSettings, slug: FromPath[str], data: FormBody
) -> Template:
    detail = services.public_detail(db, slug)
    form = Form(data)
    values = attempt(form, lambda: services.validate_interest(data))
    if values is None:
        return form_page("public/internship.html", _detail_context(db, settings, slug), form=form)
    limiter = state.rate_limiter
    if not (
        limiter.allow(f"internship-interest:ip:{client_ip(request)}", INTEREST_LIMIT_PER_HOUR * 3, 3600)
        and limiter.allow(f"internship-interest:email:{values['email']}", INTEREST_LIMIT_PER_HOUR, 3600)
    ):
        context = _detail_context(db, settings, slug, form=form, limited=True)
        return Template("public/internship.html", context=context, status_code=429)
    try:
        result = services.register_interest(
            db,
            state.renderer,
            detail.internship,
            name=values["name"],
            email=values["email"],
            note=values["note"],
            host_name=detail.host_name,
            base_url=settings.base_url,
            now=views.now(),
            manage_url=hosting.host_link(state.signer, detail.internship, settings.base_url),
        )
    except services.TransitionError as exc:
        form.add_error("email", str(exc))
        return Template(
            "public/internship.html", context=_detail_context(db, settings, slug, form=form), status_code=409
        )
    return Template(
        "public/internship_interest_done.html",
        context={"d": detail, "created": result.created, "email": values["email"]},
    )


def _host_internship(state: State, db: Session, slug: str, token: str) -> m.Internship | Template:
    """The listing the host's emailed link is for, or the page that says why the link does not work."""
    try:
        internship = services.host_token_internship(db, state.signer, token)
    except TokenError as exc:
        return Template("public/internship_host.html", context={"problem": str(exc)}, status_code=400)
    if internship.slug != slug:
        raise NotFoundException("That link is not for this internship.")
    return internship


@get("/internships/{slug:str}/host", sync_to_thread=False)
def host_confirm_page(state: State, db: DB, slug: FromPath[str], token: FromQuery[str] = "") -> Template:
    internship = _host_internship(state, db, slug, token)
    if isinstance(internship, Template):
        return internship
    return Template("public/internship_host.html", context={"i": internship, "token": token})


@post("/internships/{slug:str}/host", sync_to_thread=False)
def host_confirm(state: State, db: DB, slug: FromPath[str], data: FormBody) -> Template:
    form = Form(data)
    internship = _host_internship(state, db, slug, form.str("token", max_length=2000))
    if isinstance(internship, Template):
        return internship
    answer = form.str("answer")
    done = "open"
    if answer == "filled" and internship.status in (m.InternshipStatus.PUBLISHED, m.InternshipStatus.CLOSED):
        services.transition(db, None, internship, "filled", now=views.now())
        done = "filled"
    elif answer == "filled" and internship.status == m.InternshipStatus.FILLED:
        done = "filled"
    return Template("public/internship_host.html", context={"i": internship, "done": done})


route_handlers: list[Any] = [
    internship_list,
    internship_feed,
    *host_pages.route_handlers,  # "Offer an internship" and the host's manage link
    internship_page,
    register_interest,
    host_confirm_page,
    host_confirm,
]
