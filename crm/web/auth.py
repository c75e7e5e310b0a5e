"""Who is asking: a session cookie (browsers) or a bearer API key (integrations), and the guards on routes.

The middleware sets ``scope["user"]`` to a ``Principal`` or ``None`` and never rejects a request itself;
guards decide. Requests without a cookie or an Authorization header cost no SQL at all, and an anonymous GET of a
public page goes through ``crm.web.httpcache`` (ETag, 304).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy import select, update

from crm import models as m
from crm.accounts.principal import Principal, token_hash
from crm.web import httpcache

SESSION_COOKIE = "crm_session"


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return ""


def _cookie(scope: Scope, name: str) -> str:
    raw = _header(scope, b"cookie")
    for part in raw.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""


class AuthMiddleware(ASGIMiddleware):
    scopes = ("http",)  # type: ignore[assignment]

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        scope["user"] = None
        scope["auth"] = None
        authz = _header(scope, b"authorization")
        factory = scope["litestar_app"].state.session_factory
        if authz.lower().startswith("bearer "):
            key = authz[7:].strip()
            if key:
                scope["user"] = _principal_from_api_key(factory, key, dt.datetime.now(dt.UTC))
                scope["auth"] = "api_key"
        else:
            cookie = _cookie(scope, SESSION_COOKIE)
            if cookie:
                scope["user"] = _principal_from_session(factory, cookie, dt.datetime.now(dt.UTC))
                scope["auth"] = "session" if scope["user"] else None
            elif not authz and (tables := httpcache.rule_for(scope)):
                # the cheap path: an anonymous GET of a public page may be answered 304 here (crm.web.httpcache)
                await httpcache.serve(tables, scope, receive, send, next_app)
                return
        await next_app(scope, receive, send)


def _principal_from_session(factory: Any, cookie: str, now: dt.datetime) -> Principal | None:
    with factory() as session:
        row = session.execute(
            select(m.User.id, m.User.email, m.User.name, m.User.role, m.User.organisation_id)
            .join(m.UserSession, m.UserSession.user_id == m.User.id)
            .where(
                m.UserSession.token_hash == token_hash(cookie),
                m.UserSession.expires_at > now,
                m.User.is_active.is_(True),
            )
        ).first()
    return Principal(*row, via="session") if row else None


def _principal_from_api_key(factory: Any, key: str, now: dt.datetime) -> Principal | None:
    with factory() as session:
        row = session.execute(
            select(m.ApiKey.id, m.ApiKey.name, m.ApiKey.role, m.ApiKey.organisation_id, m.ApiKey.last_used_at).where(
                m.ApiKey.key_hash == token_hash(key), m.ApiKey.revoked_at.is_(None)
            )
        ).first()
        if row is None:
            return None
        # Touch last_used_at at most once a minute so a busy integration does not write on every call.
        if row.last_used_at is None or now - row.last_used_at > dt.timedelta(minutes=1):
            session.execute(update(m.ApiKey).where(m.ApiKey.id == row.id).values(last_used_at=now))
            session.commit()
    return Principal(
        id=-row.id,
        email=f"api-key:{row.name}",
        name=row.name,
        role=row.role,
        organisation_id=row.organisation_id,
        via="api_key",
    )


def current_user(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    return connection.scope.get("user")  # type: ignore[return-value]


def _require(connection: ASGIConnection[Any, Any, Any, Any], role: m.Role) -> Principal:
    user = current_user(connection)
    if user is None:
        raise NotAuthorizedException("Sign in to continue.")
    if not user.has_role(role):
        raise PermissionDeniedException("Your account does not have permission to do this.")
    return user


def signed_in_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    _require(connection, m.Role.VIEWER)


def editor_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    _require(connection, m.Role.EDITOR)


def admin_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    _require(connection, m.Role.ADMIN)
