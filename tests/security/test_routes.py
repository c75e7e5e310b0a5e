"""Table-driven security tests over the real route table (``tests/security/routes.py`` walks ``create_app``):
a new route is covered the moment it is registered, and a forgotten guard fails here.

* every /admin handler has a guard; every private /api/v1 route declares its role (a guard, or
  ``IN_HANDLER_ROLES``); public API reads are an explicit allow-list;
* anonymous callers are refused (HTML: 303 to /sign-in; API: 401 problem JSON);
* viewers and editors are refused (403) on routes above their role, and let into the pages at their role;
* every state-changing form route refuses a request without a CSRF token (403), except ``CSRF_EXEMPT``.
"""

from __future__ import annotations

from typing import Any

import pytest

from crm import models as m
from tests.conftest import csrf_token
from tests.security.routes import (
    CSRF_EXEMPT,
    IN_HANDLER_ROLES,
    ROLE_ORDER,
    RouteInfo,
    route_table_app,
    walk,
)

ROUTES = walk(route_table_app())
GUARD_REFUSAL = "Your account does not have permission to do this."  # crm.web.auth._require
PRIVATE = [r for r in ROUTES if r.role is not None]
FORM_POSTS = [r for r in ROUTES if r.is_form_post]


def call(client: Any, route: RouteInfo, *, csrf: bool = True, headers: dict[str, str] | None = None) -> Any:
    """One request to ``route`` with stand-in path values and an empty body of the right kind."""
    kwargs: dict[str, Any] = {"follow_redirects": False, "headers": headers or {}}
    if not route.is_safe:
        if route.is_api or route.is_webhook:
            kwargs["json"] = {}
        else:
            kwargs["data"] = {"_csrf_token": csrf_token(client)} if csrf else {"name": "x"}
    return client.request(route.method, route.url(), **kwargs)


def describe(route: RouteInfo, response: Any) -> str:
    where = response.headers.get("location", "")
    return f"{route.id} ({route.handler}) -> {response.status_code}{f' to {where}' if where else ''}"


# --- declarations: no database needed ------------------------------------------------------------------------


def test_the_route_table_is_walked():
    paths = {r.path for r in ROUTES}
    assert {"/admin", "/admin/mail", "/api/v1/me", "/sign-in"} <= paths
    assert len(PRIVATE) >= 5


def test_every_admin_handler_has_a_guard():
    missing = [f"{r.id} ({r.handler})" for r in ROUTES if r.is_admin_html and not r.guarded]
    assert not missing, "admin handlers without admin_guard/editor_guard/signed_in_guard:\n" + "\n".join(missing)


def test_every_private_api_route_declares_its_role():
    undeclared = [f"{r.id} ({r.handler})" for r in ROUTES if r.must_be_guarded and r.role is None]
    assert not undeclared, (
        "API routes that are neither guarded nor in PUBLIC_API_READS/PUBLIC_API_WRITES/IN_HANDLER_ROLES "
        "(tests/security/routes.py):\n" + "\n".join(undeclared)
    )


def test_in_handler_role_declarations_are_not_stale():
    known = {(r.method, r.path) for r in ROUTES}
    stale = [f"{method} {path}" for method, path in IN_HANDLER_ROLES if (method, path) not in known]
    assert not stale, f"IN_HANDLER_ROLES lists routes that no longer exist: {stale}"


def test_only_allow_listed_handlers_skip_csrf():
    skipping = {(r.method, r.path) for r in ROUTES if r.csrf_exempt_opt}
    assert skipping <= CSRF_EXEMPT, f"handlers opting out of CSRF that are not in CSRF_EXEMPT: {skipping - CSRF_EXEMPT}"


# --- behaviour: both databases -------------------------------------------------------------------------------


def test_anonymous_callers_are_refused_everywhere_private(client_as):
    anonymous = client_as(None)
    wrong: list[str] = []
    for route in PRIVATE:
        response = call(anonymous, route)
        if route.is_api:
            ok = (
                response.status_code == 401
                and response.headers.get("content-type", "").startswith("application/problem+json")
                and response.json().get("status") == 401
            )
        else:
            ok = response.status_code == 303 and response.headers.get("location", "").startswith("/sign-in?next=")
        if not ok:
            wrong.append(describe(route, response))
    assert not wrong, "private routes that did not refuse an anonymous caller:\n" + "\n".join(wrong)


@pytest.mark.parametrize("role", [m.Role.VIEWER, m.Role.EDITOR], ids=lambda r: r.value)
def test_under_privileged_users_are_refused(role, client_as, api_key_for):
    browser = client_as(role)
    api_headers = api_key_for(role)
    rank = ROLE_ORDER.index(role)
    wrong: list[str] = []
    for route in PRIVATE:
        if ROLE_ORDER.index(route.role) <= rank:
            continue
        if route.is_api:
            for how, headers in (("API key", api_headers), ("session", {})):
                response = call(browser, route, headers=headers)
                if response.status_code != 403 or response.json().get("status") != 403:
                    wrong.append(f"{describe(route, response)} [{role.value} {how}]")
        else:
            response = call(browser, route)
            if response.status_code != 403:
                wrong.append(f"{describe(route, response)} [{role.value}]")
    assert not wrong, f"routes above the {role.value} role that let a {role.value} through:\n" + "\n".join(wrong)


@pytest.mark.parametrize("role", ROLE_ORDER, ids=lambda r: r.value)
def test_users_reach_the_pages_their_role_allows(role, client_as, api_key_for):
    """The other half of the table: a guard that refuses everyone would pass the tests above. A handler may
    still refuse for its own reasons (an editor without an organisation), so only the guards' refusal counts."""
    browser = client_as(role)
    api_headers = api_key_for(role)
    rank = ROLE_ORDER.index(role)
    wrong: list[str] = []
    for route in PRIVATE:
        if route.method != "GET" or route.params or ROLE_ORDER.index(route.role) > rank:
            continue
        response = call(browser, route, headers=api_headers if route.is_api else None)
        refused_by_guard = response.status_code == 403 and GUARD_REFUSAL in response.text
        if response.status_code == 401 or refused_by_guard or response.status_code >= 500:
            wrong.append(describe(route, response))
    assert not wrong, f"pages a {role.value} should reach:\n" + "\n".join(wrong)


def test_state_changing_forms_refuse_a_missing_csrf_token(client_as):
    admin = client_as(m.Role.ADMIN)
    csrf_token(admin)  # the browser has the cookie; the attacker's cross-site form cannot know its value
    wrong: list[str] = []
    checked = 0
    for route in FORM_POSTS:
        if (route.method, route.path) in CSRF_EXEMPT:
            continue
        checked += 1
        for label, data in (("no token", {"name": "x"}), ("wrong token", {"_csrf_token": "forged", "name": "x"})):
            response = admin.request(route.method, route.url(), data=data, follow_redirects=False)
            if response.status_code != 403:
                wrong.append(f"{describe(route, response)} [{label}]")
    assert checked >= 3
    assert not wrong, "form routes that accepted a request without a valid CSRF token:\n" + "\n".join(wrong)
