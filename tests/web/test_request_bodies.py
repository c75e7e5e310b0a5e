"""Issue 17.6: deeply nested or oversized JSON bodies answer 400/413 with problem details on every API route that
takes a body (enumerated from the app's route table, so a new route is covered, and tested, automatically)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from crm import models as m
from crm.accounts.services import create_api_key
from crm.jsonbody import API_MAX_DEPTH, TooDeep, check_depth
from crm.web.bodies import API_MAX_BODY_BYTES

BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _api_body_routes(app: Any) -> list[tuple[str, str]]:
    found = set()
    for route in app.routes:
        if not route.path_format.startswith("/api/"):
            continue
        for handler in getattr(route, "route_handlers", []):
            for method in getattr(handler, "http_methods", ()):
                if method in BODY_METHODS:
                    found.add((method, re.sub(r"\{[^}]+\}", "1", route.path_format)))
    return sorted(found)


@pytest.fixture
def admin_key(db) -> dict[str, str]:
    _, key = create_api_key(db, "admin", m.Role.ADMIN)
    db.commit()
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


def test_the_api_has_body_routes_to_check(app) -> None:
    routes = _api_body_routes(app)
    assert ("POST", "/api/v1/organisations") in routes and len(routes) >= 10


def test_every_api_route_refuses_deep_and_huge_bodies_with_problem_details(app, client, admin_key) -> None:
    failures = []
    deep = b"[" * 5000
    huge = b'{"name": "' + b"x" * (API_MAX_BODY_BYTES + 1) + b'"}'
    for method, path in _api_body_routes(app):
        for body, status in ((deep, 400), (huge, 413)):
            r = client.request(method, path, content=body, headers=admin_key)
            if r.status_code != status or r.headers.get("content-type") != "application/problem+json":
                failures.append((method, path, status, r.status_code, r.text[:120]))
            elif r.json()["status"] != status or "Recursion" in r.text:
                failures.append((method, path, status, r.json()))
    assert failures == []


def test_nesting_just_within_the_limit_is_decoded_as_usual(client, admin_key) -> None:
    nested: Any = "x"
    for _ in range(API_MAX_DEPTH - 2):  # the object and its topics list are two levels
        nested = [nested]
    r = client.post("/api/v1/organisations", json={"name": "Deep", "kind": "vcse", "topics": nested}, headers=admin_key)
    # The handler's own decoder answered (topics must be strings), not the body guard.
    assert r.json()["errors"][0]["field"] == "topics[0]" and "not accepted" not in r.json()["detail"]


def test_malformed_json_is_still_an_ordinary_client_error(client, admin_key) -> None:
    r = client.post("/api/v1/organisations", content=b'{"name": ', headers=admin_key)
    assert 400 <= r.status_code < 500 and r.headers["content-type"] == "application/problem+json"


def test_anonymous_deep_bodies_are_refused_too(client) -> None:
    r = client.post("/api/v1/organisations", content=b"[" * 5000, headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 401) and r.headers["content-type"] == "application/problem+json"


def test_check_depth_counts_arrays_and_objects() -> None:
    check_depth(b"[" * API_MAX_DEPTH + b"]" * API_MAX_DEPTH)
    with pytest.raises(TooDeep):
        check_depth(b"[" * (API_MAX_DEPTH + 1) + b"]" * (API_MAX_DEPTH + 1))
    with pytest.raises(TooDeep):
        check_depth(b'{"a":' * 5000)
    check_depth(b"not json at all")  # left to the handler's own decoder
