"""The JSON API's shared routes: health and who-am-I. Domain routers mount under /api/v1."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from sqlalchemy import text

from crm.web.auth import Principal, signed_in_guard


class Health(msgspec.Struct):
    status: str
    database: str


class Me(msgspec.Struct):
    email: str
    name: str
    role: str
    via: str


@get(
    "/health",
    sync_to_thread=False,
    tags=["system"],
    security=[{}],  # monitors call it without a key
    responses={503: ResponseSpec(data_container=Health, description="The database cannot be reached")},
)
def health(state: State) -> Response[Health]:
    """Database connectivity; 503 when the database cannot be reached."""
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return Response(Health(status="ok", database="ok"))
    except Exception:
        return Response(Health(status="error", database="unreachable"), status_code=503)


@get("/api/v1/me", guards=[signed_in_guard], sync_to_thread=False, tags=["system"])
def me(user: NamedDependency[Principal]) -> Me:
    return Me(email=user.email, name=user.name, role=user.role.value, via=user.via)


route_handlers: list[Any] = [health, me]
