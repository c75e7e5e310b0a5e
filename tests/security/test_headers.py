"""Security headers on every response: every GET route of the route table, as the fellow and anonymously,
with path values from seeded demo data where a table matches (404s and error pages must carry them too)."""

from __future__ import annotations

from typing import Any

import pytest

from crm import models as m
from crm.demo import seed_demo
from tests.security.routes import route_table_app, seeded_values, walk

GET_ROUTES = [r for r in walk(route_table_app()) if r.method == "GET" and not r.path.startswith("/schema/")]
# The OpenAPI document itself, and the one static file every page loads.
EXTRA_URLS = ["/schema/openapi.json", "/static/css/app.css", "/no-such-page", "/api/v1/no-such-thing"]

REQUIRED = {
    "content-security-policy": lambda v: ("frame-ancestors" in v and "script-src" in v) or "sandbox" in v,
    "x-content-type-options": lambda v: v == "nosniff",
    "referrer-policy": lambda v: v in {"same-origin", "no-referrer", "strict-origin-when-cross-origin"},
    "x-frame-options": lambda v: v in {"DENY", "SAMEORIGIN"},
}


def missing_headers(response: Any) -> list[str]:
    problems = []
    for name, ok in REQUIRED.items():
        value = response.headers.get(name)
        if value is None:
            problems.append(f"no {name}")
        elif not ok(value):
            problems.append(f"{name}: {value!r}")
    directives = {
        part.split()[0]: part.split()[1:]
        for part in response.headers.get("content-security-policy", "").split(";")
        if part.strip()
    }
    scripts = directives.get("script-src", directives.get("default-src", []))
    if "'unsafe-inline'" in scripts or "'unsafe-eval'" in scripts:
        problems.append("CSP allows inline or eval'd scripts")
    return problems


@pytest.fixture
def seeded(db, settings):
    seed_demo(db, settings)
    db.commit()
    return db


def test_security_headers_on_every_get_route(seeded, client_as):
    """One walk checks two things: every response carries the headers, and (a by-product of real rows behind
    the path values) no page or API answers 5xx with the demo data loaded."""
    clients = {"admin": client_as(m.Role.ADMIN), "anonymous": client_as(None)}
    no_headers: list[str] = []
    errors: list[str] = []
    sampled = 0
    for route in GET_ROUTES:
        url = route.url(seeded_values(seeded, route))
        for who, client in clients.items():
            response = client.get(url, follow_redirects=False)
            sampled += 1
            problems = missing_headers(response)
            if problems:
                no_headers.append(f"{who} GET {url} -> {response.status_code}: {', '.join(problems)}")
            if response.status_code >= 500:
                errors.append(f"{who} GET {url} ({route.handler}) -> {response.status_code}")
    for url in EXTRA_URLS:
        response = clients["anonymous"].get(url)
        problems = missing_headers(response)
        if problems:
            no_headers.append(f"anonymous GET {url} -> {response.status_code}: {', '.join(problems)}")
    assert sampled > 20
    assert not no_headers, "responses without the security headers:\n" + "\n".join(no_headers)
    assert not errors, "GET routes that fail with the demo data loaded:\n" + "\n".join(errors)
