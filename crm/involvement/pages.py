"""The public involvement pages: the list of open opportunities (filters swap the results in place with htmx), one
opportunity's page (what lived experience is sought, what the person will do, payment, support, how to express
interest) and the interest form's POST. Anyone may use them; nothing personal is shown except, on the page after
expressing interest, the address the person typed themselves (that page is never cached or indexed).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy.orm import Session

from crm import filter_choices
from crm.directory.reference import topics_and_regions
from crm.errors import FieldErrors
from crm.involvement import queries, rules
from crm.involvement.interest import OpportunityClosed, record_interest, validate_interest
from crm.listing import ListParams
from crm.web.deps import DB, client_ip
from crm.web.forms import Form, FormBody
from crm.web.pages import form_page, list_page

INTEREST_LIMIT_PER_HOUR = 10  # per address; three times that per connection
PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
BENEFITS_NOTE = (
    "Getting benefits? Being paid can sometimes affect them. Before you decide, you can ask about other ways to be "
    "paid, such as vouchers, or to take part as a volunteer with expenses covered."
)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def common() -> dict[str, Any]:
    """What every involvement page's template needs to put stored values into words."""
    return {
        "kinds": rules.KIND_OPTIONS,
        "commitments": rules.COMMITMENT_OPTIONS,
        "pay_choices": queries.PAY_CHOICES,
        "payment": rules.payment_summary,
        "where": queries.where,
    }


@get("/involvement", sync_to_thread=False)
def opportunity_list(request: Request[Any, Any, Any], db: DB) -> Template:
    asked = ListParams.from_query(
        request.query_params.dict(), filter_names=queries.FILTER_NAMES, multi=queries.MULTI_FILTERS
    )
    unknown = queries.unknown_filters(db, asked)  # left out, and said so (crm.filter_choices)
    params = filter_choices.without_unknown(asked, unknown)
    filters = queries.Filters.from_mapping(params.filters)
    page = queries.public_list(db, params, now=now(), count=not filters.problems)
    context = {
        **common(),
        "page": page,
        "params": params,
        "asked": asked,
        "unknown": filter_choices.page_messages(unknown),
        "filters": filters,
        "problems": filters.problem_messages,
        "sorts": page.sorts,
    }

    def menus() -> dict[str, Any]:
        topics, regions = topics_and_regions(db)
        return {"topics": topics, "regions": regions}

    return list_page(
        request, "public/involvement/list.html", "public/involvement/results.html", context, page_only=menus
    )


def _detail_context(db: Session, slug: str, form: Form, **extra: Any) -> dict[str, Any]:
    detail = queries.public_detail(db, slug, now=now())
    return {
        **common(),
        "d": detail,
        "o": detail.opportunity,
        "consent_wording": rules.INTEREST_CONSENT_WORDING,
        "benefits_note": BENEFITS_NOTE,
        "form": form,
        **extra,
    }


@get("/involvement/{slug:str}", sync_to_thread=False)
def opportunity_page(db: DB, slug: FromPath[str]) -> Template:
    return form_page("public/involvement/opportunity.html", _detail_context(db, slug, Form({})), form=Form({}))


def _again(context: dict[str, Any], status: int, **headers: str) -> Template:
    """The opportunity's page with the form as it was sent: never cached (it holds what the person typed)."""
    return Template(
        "public/involvement/opportunity.html", context=context, status_code=status, headers={**PRIVATE, **headers}
    )


@post("/involvement/{slug:str}/interest", sync_to_thread=False)
def express_interest(
    request: Request[Any, Any, Any], state: State, db: DB, slug: FromPath[str], data: FormBody
) -> Template:
    form = Form(data)
    context = _detail_context(db, slug, form)
    detail: queries.Detail = context["d"]
    if not detail.open:
        return _again(context, 409)
    values, errors = validate_interest(data)
    for name, message in errors.items():
        form.add_error(name, message)
    if values is None:
        return _again(context, 422)
    limiter = state.rate_limiter
    if not (
        limiter.allow(f"involvement-interest:ip:{client_ip(request)}", INTEREST_LIMIT_PER_HOUR * 3, 3600)
        and limiter.allow(f"involvement-interest:email:{values.email}", INTEREST_LIMIT_PER_HOUR, 3600)
    ):
        context["limited"] = True
        return _again(context, 429, **{"Retry-After": "3600"})
    try:
        interest, created = record_interest(
            db,
            detail.opportunity,
            name=values.name,
            email=values.email,
            note=values.note,
            access_needs=values.access_needs,
            renderer=state.renderer,
            signer=state.signer,
            now=now(),
        )
    except OpportunityClosed:  # it closed between the page and the POST
        context["d"].open = False
        return _again(context, 409)
    except FieldErrors as exc:
        for name, message in exc.errors.items():
            form.add_error(name, message)
        return _again(context, 422)
    return Template(
        "public/involvement/interest_done.html",
        context={
            "d": detail,
            "o": detail.opportunity,
            "created": created,
            "email": interest.email,
            "wrote": bool(values.note or values.access_needs),
        },
        headers=PRIVATE,
    )


route_handlers: list[Any] = [opportunity_list, opportunity_page, express_interest]
