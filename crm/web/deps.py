"""Request-scoped dependencies: the database session (the transaction boundary) and the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlalchemy.orm import Session

from crm.db import unit_of_work
from crm.extensions import Extensions
from crm.settings import Settings
from crm.web.auth import Principal


async def provide_db(state: State) -> AsyncIterator[Session]:
    """Commit when the handler (and its template) succeeded, roll back when it raised.

    Litestar closes generator dependencies after the response object is built and before it is sent, so a
    303 redirect after a POST commits (unlike Advanced Alchemy's plain ``autocommit`` handler).

    An async generator around the sync session: Litestar finishes a *sync* generator dependency in its thread
    pool, which cost every request a thread hop (~0.3 ms, a third of a public list request at a million rows).
    The handlers already run their SQL on the event loop (``sync_to_thread=False``), so committing there is no
    change in where database work happens. The transaction is ``crm.db.unit_of_work``, as for jobs and the CLI.
    """
    with unit_of_work(state.session_factory) as session:
        yield session


def provide_settings(state: State) -> Settings:
    return state.settings


def provide_extensions(state: State) -> Extensions:
    return state.extensions


def provide_user(request: Request[Any, Any, Any]) -> Principal | None:
    return request.scope.get("user")  # type: ignore[return-value]


def client_ip(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else ""


# Handler-signature aliases (Litestar 2.22+ idioms): explicit named dependencies.
DB = NamedDependency[Session]
CurrentUser = NamedDependency[Principal | None]
AppSettings = NamedDependency[Settings]
Ext = NamedDependency[Extensions]  # what other domains lend (org-page sections, references, merge hooks)
