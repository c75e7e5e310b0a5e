"""Posting without an account (issue 18): "Offer an involvement opportunity", the public form the fellow moderates,
and the private manage page a poster opens with the signed link from their email: their one opportunity, ITS
expressions of interest with statuses (and the decision emailed if they choose), and closing it.

Every manage route reads the token first (query string on GET, hidden field on POST): a tampered or replaced link is
the "this link does not work" page (400), an expired one offers a new link sent only to the opportunity's own
contact, a deleted opportunity is the 404 page. Nothing here answers 500 for bad input; pages that show personal data
are never cached or indexed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from crm import models as m
from crm import public_forms
from crm.directory.reference import topics_and_regions
from crm.errors import FieldErrors, NotFound
from crm.involvement import access, interest_status, posting, rules
from crm.tokens import TokenError
from crm.web.deps import DB, AppSettings, CurrentUser, client_ip
from crm.web.forms import Form, FormBody
from crm.web.pages import attempt, form_page
from crm.web.pages import notice as notice_text

NOTICES = {
    "status": "Status saved.",
    "told": "Status saved, and we have emailed the person your decision.",
    "closed": "The opportunity is closed. Its page stays and says so; people can no longer express interest.",
    "already-closed": "The opportunity was already closed.",
}
PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _selected(raw: Any) -> set[str]:
    values = raw if isinstance(raw, list) else ([] if raw is None or raw == "" else [raw])
    return {str(v) for v in values}


def fields_context(db: Session, form: Form) -> dict[str, Any]:
    """What ``public/involvement/offer_fields.html`` needs (the public form and the admin form share it)."""
    topics, regions = topics_and_regions(db)
    return {
        "kinds": rules.KIND_OPTIONS,
        "commitments": rules.COMMITMENT_OPTIONS,
        "bases": rules.BASIS_OPTIONS,
        "topics": topics,
        "regions": regions,
        "selected_topics": _selected(form.data.get("topic_ids")),
    }


# ---------------------------------------------------------------------------------------------------------------
# Offer an opportunity (public, moderated)

NEW_FORM = {"expenses_covered": "1", "commitment": m.Commitment.ONE_OFF.value}


def _offer_form(db: Session, user: Any, form: Form, **extra: Any) -> Template:
    context = {
        **fields_context(db, form),
        "organisation_kinds": posting.ORGANISATION_KINDS,
        "can_post": access.can_post(db, user),
        **extra,
    }
    page = form_page("public/involvement/offer.html", context, form=form)
    if form.errors:  # it shows back what was typed, the poster's address included
        page.headers.update(PRIVATE)
    return page


@get("/involvement/offer", sync_to_thread=False)
def offer_page(db: DB, user: CurrentUser) -> Template:
    """For research teams, charities and the NHS: what an opportunity needs, and the form that sends it."""
    return _offer_form(db, user, Form(dict(NEW_FORM)))


@post("/involvement/offer", sync_to_thread=False)
def offer_submit(
    request: Request[Any, Any, Any], state: State, db: DB, settings: AppSettings, user: CurrentUser, data: FormBody
) -> Template:
    form = Form(data)
    if public_forms.trapped(data, "involvement offer"):  # a field people cannot see: only robots fill it in
        return Template("public/involvement/offer_done.html", context={"title": form.str("title"), "email": ""})
    moment = now()
    offer = attempt(form, lambda: posting.validate_offer(db, data, today=rules.london_today(moment)))
    if offer is None:
        return _offer_form(db, user, form)
    if not state.rate_limiter.allow(f"involvement-offer:{client_ip(request)}", posting.OFFER_LIMIT_PER_HOUR, 3600):
        page = _offer_form(db, user, form, limited=True)
        page.status_code = 429
        page.headers["Retry-After"] = "3600"
        return page
    opp = posting.submit_offer(db, state.renderer, offer, base_url=settings.base_url, now=moment)
    return Template(
        "public/involvement/offer_done.html",
        context={"title": opp.title, "email": opp.contact_email},
        headers=PRIVATE,
    )


# ---------------------------------------------------------------------------------------------------------------
# The manage link


def _problem(exc: TokenError, token: str, status_code: int = 400) -> Template:
    return Template(
        "public/involvement/manage_problem.html",
        context={"problem": str(exc), "expired": exc.expired, "token": token},
        status_code=status_code,
        headers=PRIVATE,
    )


def _open(state: State, db: Session, token: str) -> m.InvolvementOpportunity | Template:
    """The opportunity the link is for, or the page that says why the link does not work."""
    try:
        return posting.manage_opportunity(db, state.signer, token)
    except TokenError as exc:
        return _problem(exc, token)
    except NotFound as exc:
        raise NotFoundException(exc.detail) from exc


def _manage_page(
    db: Session, opp: m.InvolvementOpportunity, token: str, *, notice: str = "", error: str = "", status_code: int = 200
) -> Template:
    return Template(
        "public/involvement/manage.html",
        context={
            "o": opp,
            "organisation_name": posting.organisation_name_of(db, opp),
            "payment": rules.payment_summary(opp),
            "is_open": rules.is_open(opp.status, opp.closes_at, now()),
            "token": token,
            "interests": interest_status.interest_rows(db, opp.id),
            "counts": interest_status.status_counts(db, opp.id),
            "statuses": list(m.InvolvementInterestStatus),
            "status_hint": interest_status.STATUS_HINT,
            "notice": notice,
            "error": error,
        },
        status_code=status_code,
        headers=PRIVATE,
    )


def _back(token: str, notice: str, anchor: str = "") -> Redirect:
    return Redirect(f"/involvement/manage?token={token}&notice={notice}{anchor}", status_code=303)


def _token(data: dict[str, Any]) -> str:
    return Form(data).str("token", max_length=2000)


@get("/involvement/manage", sync_to_thread=False)
def manage_page(state: State, db: DB, token: FromQuery[str] = "", notice: FromQuery[str] = "") -> Template:
    opp = _open(state, db, token)
    if isinstance(opp, Template):
        return opp
    return _manage_page(db, opp, token, notice=notice_text(notice, NOTICES))


@post("/involvement/manage/interests/{interest_id:int}", sync_to_thread=False)
def manage_interest(
    state: State, db: DB, settings: AppSettings, interest_id: FromPath[int], data: FormBody
) -> Template | Redirect:
    token = _token(data)
    opp = _open(state, db, token)
    if isinstance(opp, Template):
        return opp
    try:
        status, notify = interest_status.parse_status(data)
        change = interest_status.change_status(
            db,
            state.renderer,
            opp,
            interest_id,
            status,
            notify=notify,
            by=posting.POSTER,
            base_url=settings.base_url,
            now=now(),
        )
    except FieldErrors as exc:
        return _manage_page(db, opp, token, error=exc.errors["status"], status_code=422)
    except NotFound as exc:
        raise NotFoundException(exc.detail) from exc
    return _back(token, "told" if change.notified else "status", f"#interest-{interest_id}")


@get("/involvement/manage/close", sync_to_thread=False)
def manage_close_confirm(state: State, db: DB, token: FromQuery[str] = "") -> Template:
    """Closing cannot be undone by the poster, so it is asked once more."""
    opp = _open(state, db, token)
    if isinstance(opp, Template):
        return opp
    return Template("public/involvement/manage_close.html", context={"o": opp, "token": token}, headers=PRIVATE)


@post("/involvement/manage/close", sync_to_thread=False)
def manage_close(state: State, db: DB, data: FormBody) -> Template | Redirect:
    token = _token(data)
    opp = _open(state, db, token)
    if isinstance(opp, Template):
        return opp
    try:
        closed = posting.poster_close(db, opp, now=now())
    except FieldErrors as exc:
        return _manage_page(db, opp, token, error=exc.errors["status"], status_code=409)
    return _back(token, "closed" if closed else "already-closed")


@post("/involvement/manage/new-link", sync_to_thread=False)
def manage_new_link(
    request: Request[Any, Any, Any], state: State, db: DB, settings: AppSettings, data: FormBody
) -> Template:
    """A fresh link for a genuine expired one, sent only to the opportunity's own contact (so asking reveals
    nothing: the answer is the same whatever the link was)."""
    opp = posting.expired_link_opportunity(db, state.signer, _token(data))
    limiter = state.rate_limiter
    if not limiter.allow(f"involvement-new-link:ip:{client_ip(request)}", 10, 3600) or (
        opp is not None and not limiter.allow(f"involvement-new-link:{opp.id}", posting.NEW_LINK_LIMIT_PER_HOUR, 3600)
    ):
        return Template(
            "public/involvement/manage_problem.html",
            context={"problem": "This link has expired.", "limited": True},
            status_code=429,
            headers={**PRIVATE, "Retry-After": "3600"},
        )
    if opp is not None:
        posting.send_manage_link(
            db, state.renderer, state.signer, opp, base_url=settings.base_url, now=now(), reason="expired"
        )
    return Template("public/involvement/manage_problem.html", context={"sent": True}, headers=PRIVATE)


route_handlers: list[Any] = [
    offer_page,
    offer_submit,
    manage_page,
    manage_interest,
    manage_close_confirm,
    manage_close,
    manage_new_link,
]
