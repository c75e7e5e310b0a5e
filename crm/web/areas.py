"""Where a domain's handlers hang: an admin area (behind a guard, kept out of the API document) or an API area
(tagged in the OpenAPI document, a bad body answered as problem JSON). Every domain mounts its handlers the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from litestar import Router
from litestar.exceptions import HTTPException

from crm.web.auth import admin_guard
from crm.web.errors import api_bad_body_handler

Guard = Callable[..., Any]


def admin_area(path: str, handlers: Sequence[Any], *, guard: Guard | None = admin_guard) -> list[Any]:
    """The fellow's pages under ``path``; ``guard=None`` when each handler carries its own."""
    return [
        Router(
            path=path,
            route_handlers=list(handlers),
            guards=[guard] if guard is not None else None,
            include_in_schema=False,
        )
    ]


def api_area(
    path: str, handlers: Sequence[Any], *, tag: str, guard: Guard | None = None, bad_body_problems: bool = True
) -> list[Any]:
    """JSON endpoints under ``path``, documented under ``tag``."""
    return [
        Router(
            path=path,
            route_handlers=list(handlers),
            guards=[guard] if guard is not None else None,
            tags=[tag],
            exception_handlers={HTTPException: api_bad_body_handler} if bad_body_problems else None,
        )
    ]
