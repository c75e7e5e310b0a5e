"""Document the RFC 9457 problem responses the API really sends, so clients (and schemathesis) can rely on the
OpenAPI document: 400 everywhere (as problem+json, not Litestar's default JSON body), 401/403 on operations
that need a signed-in user or key (a guard, a write, or a handler that asks who the user is), 404 where a path
names a record, 409/422 where a write can conflict or fail validation. Called once by ``create_app``; idempotent."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar
from litestar.openapi import ResponseSpec

from crm.web.errors import PROBLEM_JSON, TITLES


class FieldError(msgspec.Struct):
    field: str
    message: str


class Problem(msgspec.Struct, omit_defaults=True):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None


def _spec(status: int) -> ResponseSpec:
    return ResponseSpec(data_container=Problem, description=TITLES.get(status, "Error"), media_type=PROBLEM_JSON)


def document_problem_responses(app: Litestar) -> None:
    for route in app.routes:
        if not route.path_format.startswith("/api/"):
            continue
        for handler in getattr(route, "route_handlers", []):
            methods = getattr(handler, "http_methods", set()) or set()
            writes = bool(methods - {"GET", "HEAD", "OPTIONS"})
            asks_who = "user" in handler.parsed_fn_signature.parameters  # may refuse inside the handler
            statuses: set[int] = {400}  # malformed parameters or body (our handler answers problem+json)
            if handler.resolve_guards() or writes or asks_who:
                statuses |= {401, 403}
            if route.path_parameters:
                statuses.add(404)
            if writes:
                statuses |= {409, 422}
            existing: dict[int, Any] = dict(handler.responses or {})
            for status in statuses:
                current = existing.get(status)
                if current is None or (status == 400 and current.media_type != PROBLEM_JSON):
                    existing[status] = _spec(status)
            handler.responses = existing
