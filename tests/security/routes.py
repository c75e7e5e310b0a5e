"""The real route table of ``create_app``, walked so a new route cannot be forgotten by the security tests.

``python -m tests.security.routes`` prints the table of who may use which route (derived from the guards).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from litestar import Litestar

from crm import models as m
from crm.web.auth import admin_guard, editor_guard, signed_in_guard

GUARD_ROLES = {admin_guard: m.Role.ADMIN, editor_guard: m.Role.EDITOR, signed_in_guard: m.Role.VIEWER}
ROLE_ORDER = [m.Role.VIEWER, m.Role.EDITOR, m.Role.ADMIN]
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

# GET /api/v1 routes anyone may read (public data that the public HTML pages show too). Everything else
# under /api/v1 must carry a guard; a new public API route is a deliberate one-line addition here.
PUBLIC_API_READS: set[str] = {
    "/api/v1/organisations",
    "/api/v1/organisations/{org_id}",
    "/api/v1/funding-calls",
    "/api/v1/funding-calls/{call_id}",
    "/api/v1/events",
    "/api/v1/events/{event_id}",
    "/api/v1/internships",
    "/api/v1/internships/{internship_id}",
    "/api/v1/involvement-opportunities",
    "/api/v1/involvement-opportunities/{opportunity_id}",
    "/api/v1/topics",
    "/api/v1/topics/{topic_id}",
    "/api/v1/regions",
}
# Non-GET /api/v1 routes anyone may call (none so far: public sign-ups go through the HTML forms).
PUBLIC_API_WRITES: set[tuple[str, str]] = set()

# State-changing HTML routes that deliberately accept a POST without a CSRF token: RFC 8058 one-click
# unsubscribe (mail clients POST it with no cookie and no token; the signed URL is the authority).
CSRF_EXEMPT: set[tuple[str, str]] = {("POST", "/u/{token}")}

# Private API routes that check the role inside the handler instead of with a guard (the walker cannot see
# those checks, so they are declared here; prefer a guard on the handler, which makes this table shrink).
IN_HANDLER_ROLES: dict[tuple[str, str], m.Role] = {
    ("POST", "/api/v1/organisations"): m.Role.ADMIN,
    ("PATCH", "/api/v1/organisations/{org_id}"): m.Role.EDITOR,
    ("DELETE", "/api/v1/organisations/{org_id}"): m.Role.ADMIN,
    ("GET", "/api/v1/contacts"): m.Role.ADMIN,
    ("GET", "/api/v1/contacts/{contact_id}"): m.Role.ADMIN,
    ("POST", "/api/v1/contacts"): m.Role.ADMIN,
    ("PATCH", "/api/v1/contacts/{contact_id}"): m.Role.ADMIN,
    ("DELETE", "/api/v1/contacts/{contact_id}"): m.Role.ADMIN,
    ("POST", "/api/v1/topics"): m.Role.ADMIN,
    ("PATCH", "/api/v1/topics/{topic_id}"): m.Role.ADMIN,
    ("DELETE", "/api/v1/topics/{topic_id}"): m.Role.ADMIN,
}


@dataclasses.dataclass(frozen=True)
class RouteInfo:
    method: str
    path: str  # as written in the route table, e.g. /admin/mail/{message_id}
    handler: str  # module.function
    role: m.Role | None  # the least role allowed (from the guards, else IN_HANDLER_ROLES); None: anyone
    guarded: bool  # one of our guards is attached (what every /admin handler must have)
    other_guards: tuple[str, ...]  # guards that are not one of ours (custom checks)
    params: dict[str, type]
    csrf_exempt_opt: bool

    @property
    def is_admin_html(self) -> bool:
        return self.path == "/admin" or self.path.startswith("/admin/")

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/api/")

    @property
    def is_webhook(self) -> bool:
        return self.path.startswith("/webhooks/")

    @property
    def is_safe(self) -> bool:
        return self.method in SAFE_METHODS

    @property
    def is_public_api(self) -> bool:
        if self.is_safe:
            return self.path in PUBLIC_API_READS
        return (self.method, self.path) in PUBLIC_API_WRITES

    @property
    def must_be_guarded(self) -> bool:
        return self.is_admin_html or (self.path.startswith("/api/v1/") and not self.is_public_api)

    @property
    def is_form_post(self) -> bool:
        """A state-changing request from an HTML form: must carry the CSRF token."""
        return not self.is_safe and not self.is_api and not self.is_webhook

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    def url(self, values: dict[str, Any] | None = None) -> str:
        """The path with parameters filled from ``values`` (by name) or harmless stand-ins."""
        values = values or {}

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            kind = self.params.get(name)
            return "1" if kind is int else "x"

        return re.sub(r"\{(\w+)(?::\w+)?\}", fill, self.path)


def _unwrap(guard: Any) -> Any:
    """Litestar wraps guards in an async adapter; the original function is on ``func``/``__wrapped__``."""
    for attr in ("func", "__wrapped__", "_func"):
        inner = getattr(guard, attr, None)
        if inner is not None and inner is not guard:
            return _unwrap(inner)
    return guard


def _name(fn: Any) -> str:
    fn = getattr(fn, "func", fn)
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def walk(app: Litestar) -> list[RouteInfo]:
    infos: list[RouteInfo] = []
    for route in app.routes:
        handlers = getattr(route, "route_handlers", [])
        for handler in handlers:
            methods = getattr(handler, "http_methods", None)
            if not methods:
                continue  # websocket / ASGI mounts
            guards = [_unwrap(g) for g in handler.resolve_guards()]
            roles = [GUARD_ROLES[g] for g in guards if g in GUARD_ROLES]
            others = tuple(_name(g) for g in guards if g not in GUARD_ROLES)
            guard_role = max(roles, key=ROLE_ORDER.index) if roles else None
            params = {name: p.type for name, p in route.path_parameters.items()}
            exempt = bool(handler.opt.get("exclude_from_csrf"))
            for method in sorted(methods):
                if method in {"HEAD", "OPTIONS"}:
                    continue
                declared = IN_HANDLER_ROLES.get((method, route.path_format))
                role = guard_role or declared
                infos.append(
                    RouteInfo(
                        method,
                        route.path_format,
                        _name(handler.fn),
                        role,
                        guard_role is not None,
                        others,
                        params,
                        exempt,
                    )
                )
    return sorted(infos, key=lambda r: (r.path, r.method))


def route_table_app() -> Litestar:
    """The app's routes without touching a database (engines connect lazily)."""
    from crm.app import create_app
    from crm.settings import Settings
    from tests.conftest import TEST_SECRET

    return create_app(Settings(env="test", database_url="sqlite://", secret_keys=(TEST_SECRET,)))


def table(infos: list[RouteInfo]) -> str:
    lines = ["| method | path | least role | public? |", "| --- | --- | --- | --- |"]
    for r in infos:
        if r.path.startswith(("/static", "/schema")):
            continue
        if r.role is None:
            who = "custom: " + ", ".join(r.other_guards) if r.other_guards else "anyone"
        else:
            who = r.role.value + ("" if r.guarded else " (checked in the handler)")
        lines.append(f"| {r.method} | `{r.path}` | {who} | {'yes' if r.role is None and not r.other_guards else ''} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(walk(route_table_app())))


# Path segments whose table name is not the segment itself.
SEGMENT_TABLES = {"mail": "outbox_messages", "subscribers": "subscriptions", "requests": "event_place_requests"}


def seeded_values(session: Any, route: RouteInfo) -> dict[str, Any]:
    """Path values taken from real rows: ``/admin/organisations/{org_id}`` gets the first organisation's id,
    ``/internships/{slug}`` the first internship's slug. The table is named by the segment before the
    parameter; parameters that name no table (tokens, actions) keep their stand-ins."""
    from sqlalchemy import func, inspect, select

    from crm.models import Base

    tables = Base.metadata.tables
    existing = set(inspect(session.connection()).get_table_names())
    segments = route.path.strip("/").split("/")
    values: dict[str, Any] = {}
    for i, segment in enumerate(segments):
        match = re.fullmatch(r"\{(\w+)(?::\w+)?\}", segment)
        if not match or i == 0:
            continue
        name = match.group(1)
        previous = segments[i - 1]
        table_name = SEGMENT_TABLES.get(previous, previous.replace("-", "_"))
        table = tables.get(table_name)
        if table is None or table_name not in existing:
            continue
        column = table.c.get("slug") if name == "slug" else table.c.get("id")
        if column is None:
            continue
        value = session.scalar(select(func.min(column)))
        if value is not None:
            values[name] = value
    return values
