"""The OpenAPI document against the app's own behaviour, without a database (issue 17.8): what schemathesis
(tests/api_fuzz/test_all_checks.py) found wrong, checked directly so a regression names its cause."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from crm.api.openapi import MAX_ID
from crm.web.bodies import METHODS_WITH_BODIES
from tests.security.routes import PUBLIC_API_READS, route_table_app

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def app() -> Litestar:
    return route_table_app()


@pytest.fixture(scope="module")
def document(app: Litestar) -> dict[str, Any]:
    with TestClient(app) as client:
        return client.get("/schema/openapi.json").json()


def api_operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in document["paths"].items()
        if path.startswith("/api/")
        for method, op in item.items()
        if method in HTTP_METHODS
    ]


def body_structs(app: Litestar) -> dict[str, type[msgspec.Struct]]:
    """Every Struct a request body can contain, by name (nested ones too)."""
    found: dict[str, type[msgspec.Struct]] = {}

    def walk(info: msgspec.inspect.Type) -> None:
        if isinstance(info, msgspec.inspect.StructType) and info.cls.__name__ not in found:
            found[info.cls.__name__] = info.cls
            for field in info.fields:
                walk(field.type)
        for attr in ("types", "item_type", "value_type"):
            inner = getattr(info, attr, None)
            for sub in inner if isinstance(inner, tuple) else [inner] if inner is not None else []:
                walk(sub)

    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is not None and route.path_format.startswith("/api/"):
                walk(msgspec.inspect.type_info(data.annotation))
    return found


def test_unknown_fields_are_documented_as_refused_exactly_where_msgspec_refuses_them(app, document):
    structs = body_structs(app)
    schemas = document["components"]["schemas"]
    assert {"OrganisationIn", "TopicIn", "EventPatch", "MemberIn", "DeadlineIn"} <= structs.keys()
    for name, struct in structs.items():
        refuses = struct.__struct_config__.forbid_unknown_fields
        assert schemas[name].get("additionalProperties", True) is not refuses, name
        if refuses:
            with pytest.raises(msgspec.ValidationError, match="unknown field"):
                msgspec.json.decode(b'{"surely_not_a_field": 1}', type=struct)


def test_public_reads_need_no_key_and_everything_else_does(document):
    assert document["security"] == [{"BearerToken": []}]
    public = {(m, p) for m, p, op in api_operations(document) if {} in op.get("security", document["security"])}
    assert public == {("GET", path) for path in PUBLIC_API_READS if path in document["paths"]}
    assert document["paths"]["/health"]["get"]["security"] == [{}]
    assert "503" in document["paths"]["/health"]["get"]["responses"]


def test_problem_responses_are_documented_where_they_can_happen(document):
    for method, path, op in api_operations(document):
        statuses = set(op["responses"])
        assert "400" in statuses, (method, path)
        if "{" in path:
            assert "404" in statuses, (method, path)
        if method in METHODS_WITH_BODIES:
            assert {"409", "413", "422"} <= statuses, (method, path)
        for status in {s for s in statuses if not s.startswith("2")}:  # every success (200, 201, 202, 204) aside
            assert "application/problem+json" in op["responses"][status]["content"], (method, path, status)


def test_record_ids_in_paths_are_bounded_by_what_the_database_holds(document):
    ids = [p for _, path, op in api_operations(document) for p in op.get("parameters", []) if p["in"] == "path"]
    assert ids
    for parameter in ids:
        assert parameter["schema"] == {"type": "integer", "minimum": 1, "maximum": MAX_ID}, parameter


def test_options_allows_every_method_of_its_path(app, document):
    with TestClient(app) as client:
        for path, item in document["paths"].items():
            if not path.startswith("/api/v1/") or path.startswith("/api/v1/partnerships"):
                continue  # partnerships sit behind a sign-in guard, OPTIONS included (a 401 here)
            documented = {m.upper() for m in item if m in HTTP_METHODS} | {"OPTIONS"}
            url = "/".join("1" if part.startswith("{") else part for part in path.split("/"))
            response = client.options(url)
            assert response.status_code == 204, (url, response.status_code)
            assert set(response.headers["allow"].split(", ")) == documented, url


def test_record_references_in_bodies_are_bounded_like_the_ids_they_name(document):
    invite = document["components"]["schemas"]["EventIn"]["properties"]
    bounded = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    assert bounded in invite["host_organisation_id"]["oneOf"]
    assert document["components"]["schemas"]["MemberIn"]["properties"]["organisation_id"]["oneOf"][0] == bounded
    assert "maximum" not in invite["capacity"]["oneOf"][0]  # not a record id: what the rules allow, not a key
