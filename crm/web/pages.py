"""The steps every page repeats, written once: a list page or its htmx fragment, a record or 404, a form that
re-renders with its messages, a notice after a redirect.

Handlers stay short (parse, authorise, call one service, choose a response) and every page answers the same way:
a bad form is 422 with every message at once, a missing record is the 404 page, htmx gets only the results.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from litestar import Request
from litestar.exceptions import NotFoundException
from litestar.response import Template
from sqlalchemy.orm import Session

from crm.errors import FieldErrors
from crm.validation import Form
from crm.web.errors import unprocessable

T = TypeVar("T")


def is_htmx(headers: Mapping[str, str]) -> bool:
    """htmx asks for the results fragment only; the same URL without htmx returns the whole page."""
    return headers.get("hx-request") == "true" and headers.get("hx-boosted") != "true"


def list_page(
    request: Request[Any, Any, Any],
    template: str,
    results_template: str,
    context: dict[str, Any],
    *,
    page_only: Callable[[], dict[str, Any]] | None = None,
) -> Template:
    """The whole list page, or only its results when htmx asks (filters, sorting and paging swap them in place).

    ``page_only`` builds what only the whole page shows (filter menus), so a fragment request never loads it.
    """
    if is_htmx(request.headers):
        return Template(results_template, context=context)
    return Template(template, context={**context, **(page_only() if page_only else {})})


def or_404(value: T | None, detail: str) -> T:
    if value is None:
        raise NotFoundException(detail)
    return value


def get_or_404(db: Session, model: type[T], record_id: int, detail: str) -> T:
    """The record by primary key, or the 404 page (problem JSON on the API) with ``detail``."""
    return or_404(db.get(model, record_id), detail)


def attempt(form: Form, action: Callable[[], T], *, checks: Callable[[], Mapping[str, str]] | None = None) -> T | None:
    """Run a service call when the form is valid; a refusal with field messages lands on the form.

    Returns the action's result, or ``None`` when the form (now or after the refusal) has errors, so the caller
    re-renders it with every message at once. ``checks`` is the service's own validation: when the form already
    has errors it runs too, so a person sees the service's messages (an amount range, a missing deadline) in the
    same answer, not one submit later.
    """
    if not form.ok:
        if checks is not None:
            for key, message in checks().items():
                form.add_error(key, message)
        return None
    try:
        return action()
    except FieldErrors as exc:
        for key, message in exc.errors.items():
            form.add_error(key, message)
        return None


def api_attempt(action: Callable[[], T]) -> T:
    """Run a service call for the JSON API: a ``FieldErrors`` refusal is the 422 problem naming each bad field."""
    try:
        return action()
    except FieldErrors as exc:
        raise unprocessable(exc.errors) from exc


def form_page(template: str, context: dict[str, Any], *, form: Form) -> Template:
    """A form page: 200 when first shown, 422 when it comes back with messages."""
    return Template(template, context={**context, "form": form}, status_code=422 if form.errors else 200)


def form_page_as(refused_status: int, template: str, context: dict[str, Any], *, form: Form) -> Template:
    """``form_page`` for the forms that answer a refusal with another status than 422: the directory's and the
    sign-in forms have always answered 400, and their clients and tests rely on it."""
    return Template(template, context={**context, "form": form}, status_code=refused_status if form.errors else 200)


def notice(key: str, notices: Mapping[str, str], message: str = "") -> str:
    """The line a page shows after a redirect (``?saved=…``): a known key's text, else a short free message."""
    return notices.get(key, "") or message[:300]


def api_page(struct: Callable[..., T], page: Any, item: Callable[[Any], Any]) -> T:
    """One page of an API list: its items converted one by one, and the cursors to the pages either side."""
    return struct(items=[item(row) for row in page.items], next_cursor=page.next_cursor, prev_cursor=page.prev_cursor)


def api_attempt_as(field_names: Mapping[str, str], action: Callable[[], T]) -> T:
    """``api_attempt`` for services that name some fields otherwise than the API does (``topic_ids`` is ``topics``):
    the 422 problem names each bad field as the client sent it."""
    try:
        return action()
    except FieldErrors as exc:
        raise unprocessable({field_names.get(key, key): message for key, message in exc.errors.items()}) from exc
