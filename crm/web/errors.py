"""Errors as people and programs expect them: HTML pages for browsers, RFC 9457 problem details for the API.

A stack trace never leaves the server; unexpected errors are logged with an id the page shows.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import quote

from litestar import MediaType, Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import DataError

from crm.errors import Forbidden, NotFound

log = logging.getLogger("crm.errors")

PROBLEM_JSON = "application/problem+json"

TITLES = {
    400: "Bad request",
    401: "Sign in required",
    403: "Not allowed",
    404: "Page not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Too large",
    415: "Unsupported media type",
    422: "Invalid data",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Service unavailable",
}


def wants_json(request: Request[Any, Any, Any]) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/webhooks/", "/schema")) or path == "/health":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def problem(status: int, detail: str, *, instance: str = "", **extra: Any) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return Response(body, status_code=status, media_type=PROBLEM_JSON)


def _detail(exc: HTTPException) -> str:
    detail = exc.detail or TITLES.get(exc.status_code, "Error")
    if exc.status_code == 403 and "CSRF" in detail:
        return "This form has expired or was sent from another site. Go back, reload the page and try again."
    return detail


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if status >= 500:
        return internal_error_handler(request, exc)
    detail = _detail(exc)
    if wants_json(request):
        extra: dict[str, Any] = {}
        if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
            extra["errors"] = [
                {"field": e.get("key", ""), "message": e.get("message", "")} for e in exc.extra if isinstance(e, dict)
            ]
        response = problem(status, detail, instance=request.url.path, **extra)
        if exc.headers:
            response.headers.update(exc.headers)
        return response
    if isinstance(exc, NotAuthorizedException):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(f"/sign-in?next={quote(target, safe='')}", status_code=303)
    template = {404: "errors/404.html", 403: "errors/403.html"}.get(status, "errors/error.html")
    return Template(
        template,
        context={"status": status, "title": TITLES.get(status, "Error"), "detail": detail},
        status_code=status,
        media_type=MediaType.HTML,
        headers=exc.headers or None,
    )


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    error_id = secrets.token_hex(6)
    log.exception("unhandled error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc)
    detail = f"An unexpected error happened on our side. Nothing you did caused it. Reference: {error_id}."
    if wants_json(request):
        return problem(HTTP_500_INTERNAL_SERVER_ERROR, detail, instance=request.url.path)
    return Template(
        "errors/error.html",
        context={"status": 500, "title": TITLES[500], "detail": detail},
        status_code=500,
        media_type=MediaType.HTML,
    )


def out_of_range_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A number the database cannot hold (an id of 10**30 in a URL or body) is the caller's mistake, not a 500:
    SQLite raises OverflowError, PostgreSQL a DataError ("integer out of range"); the transaction rolls back."""
    log.warning("out-of-range value on %s %s: %s", request.method, request.url.path, exc)
    return http_exception_handler(
        request, ClientException(status_code=400, detail="A value in the request is out of range.")
    )


def service_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """``crm.errors`` raised by a service: the same 404/403 answer as Litestar's own exceptions."""
    if isinstance(exc, NotFound):
        return http_exception_handler(request, NotFoundException(detail=exc.detail))
    assert isinstance(exc, Forbidden)
    return http_exception_handler(request, PermissionDeniedException(detail=exc.detail))


EXCEPTION_HANDLERS = {
    HTTPException: http_exception_handler,
    NotFound: service_error_handler,
    Forbidden: service_error_handler,
    OverflowError: out_of_range_handler,
    DataError: out_of_range_handler,
    Exception: internal_error_handler,
}


def api_bad_body_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """For API routers: a body that does not decode (wrong JSON types) is a 422 with per-field errors, like any
    other bad field; everything else is handled as usual."""
    if isinstance(exc, ValidationException) and exc.status_code == 400:
        errors = [
            {"field": str(item.get("key", "")), "message": str(item.get("message", ""))}
            for item in (exc.extra if isinstance(exc.extra, list) else [])
            if isinstance(item, dict)
        ]
        return problem(422, exc.detail or "The request body is not valid.", instance=request.url.path, errors=errors)
    return http_exception_handler(request, exc)


def unprocessable(errors: dict[str, str]) -> ValidationException:
    """A 422 problem listing each bad field (``{"field": message}``)."""
    exc = ValidationException(
        detail="Some fields need attention.", extra=[{"key": k, "message": v} for k, v in errors.items()]
    )
    exc.status_code = 422
    return exc
