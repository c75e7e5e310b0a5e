"""The page a group answers a consultation request on (/involvement/answer?token=…), opened from its email.

No account: the signed link is the group's key (``crm.involvement.consultation_groups``). The page shows who is
asking and what, and a short form: yes, no, or we have questions, a message and a name. A group may change its
answer until the request closes. Every way it can go wrong has its own calm page, never a 500: a link that was
changed or cut short (400), a request the researcher deleted (404), a request that has closed (the page says so;
an answer sent after closing is refused with the text typed shown back and where to email it, 409).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import get, post
from litestar.datastructures import State
from litestar.params import FromQuery
from litestar.response import Template

from crm.errors import NotFound
from crm.involvement import consultation_groups
from crm.involvement.consultation_groups import AnswerClosed, AnswerPage
from crm.tokens import TokenError
from crm.web.deps import DB, AppSettings
from crm.web.forms import Form, FormBody
from crm.web.pages import attempt

PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
TOKEN_LIMIT = 2000


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _problem(message: str, status_code: int) -> Template:
    return Template(
        "public/involvement/answer_problem.html",
        context={"problem": message, "missing": status_code == 404},
        status_code=status_code,
        headers=PRIVATE,
    )


def _open(db: Any, state: State, token: str) -> AnswerPage | Template:
    """The request and group the link is for, or the page saying why the link does not open anything."""
    if not token or len(token) > TOKEN_LIMIT:
        return _problem("This link is not complete. Open it again from the email, or copy all of it.", 400)
    try:
        return consultation_groups.open_answer(db, state.signer, token)
    except TokenError as exc:
        return _problem(str(exc), 400)
    except NotFound as exc:
        return _problem(exc.detail, 404)


def _page(page: AnswerPage, token: str, form: Form, *, closed_message: str = "", status_code: int = 200) -> Template:
    return Template(
        "public/involvement/answer.html",
        context={
            "req": page.request,
            "recipient": page.recipient,
            "group_name": page.group_name,
            "researcher_organisation": page.researcher_organisation,
            "token": token,
            "form": form,
            "is_open": page.is_open(_now()),
            "closed_message": closed_message,
            "answers": consultation_groups.ANSWERS,
        },
        status_code=422 if form.errors and not closed_message else status_code,
        headers=PRIVATE,
    )


@get("/involvement/answer", sync_to_thread=False, include_in_schema=False)
def answer_page(state: State, db: DB, token: FromQuery[str] = "") -> Template:
    page = _open(db, state, token)
    if isinstance(page, Template):
        return page
    r = page.recipient
    values = {"answer": r.answer.value if r.answered_at else "", "note": r.answer_note, "name": r.answered_by}
    return _page(page, token, Form(values))


@post("/involvement/answer", sync_to_thread=False, include_in_schema=False)
def answer_submit(state: State, db: DB, settings: AppSettings, data: FormBody) -> Template:
    form = Form(data)
    token = form.str("token", max_length=TOKEN_LIMIT)
    page = _open(db, state, token)
    if isinstance(page, Template):
        return page
    try:
        changed = attempt(
            form,
            lambda: consultation_groups.record_answer(
                db,
                state.renderer,
                page,
                consultation_groups.validate_answer(data),
                base_url=settings.base_url,
                now=_now(),
            ),
        )
    except AnswerClosed as exc:
        return _page(page, token, form, closed_message=str(exc), status_code=409)
    if changed is None:
        if not page.is_open(_now()):  # bad input on a closed request: say it is closed, keep what they typed
            return _page(
                page, token, form, closed_message=consultation_groups.closed_message(page.request), status_code=409
            )
        return _page(page, token, form)
    return Template(
        "public/involvement/answer_done.html",
        context={
            "req": page.request,
            "group_name": page.group_name,
            "recipient": page.recipient,
            "changed": changed,
            "token": token,
        },
        headers=PRIVATE,
    )


route_handlers: list[Any] = [answer_page, answer_submit]
