"""Make /schema/openapi.json say what the API really does, so clients (and schemathesis) can rely on it.

- Problem responses (RFC 9457, problem+json): 400 everywhere (a malformed parameter or body, an id the database
  cannot hold); 401/403 where a guard, a write or the handler itself may refuse; 404 where a path names a record;
  409/422 on writes; 413 on every method ``crm.web.bodies.guard_api_body`` reads a body for (it answers 413 over
  ``API_MAX_BODY_BYTES`` and 400 for JSON nested too deeply).
- ``additionalProperties: false`` on every msgspec Struct declared with ``forbid_unknown_fields=True`` (msgspec
  refuses the unknown field, so the document must not allow it); read from the struct's own config, never listed.
- Record ids in paths (and ``*_id``/``*_ids`` fields of bodies) run from 1 to ``MAX_ID`` (PostgreSQL ``integer``
  keys): outside it no record exists (404/422) or the database cannot hold the number (400).
- ``PUBLIC_READ``: the security requirement of reads anyone may make (an API key only shows more).
- ``OPTIONS`` answers ``Allow`` with every method of its path (see ``correct_options_allow``).

``document_problem_responses`` is called once by ``create_app``; idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Litestar
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIType, Operation
from litestar.routes import HTTPRoute

from crm.validation import MAX_ID  # primary keys are PostgreSQL ``integer``; the API is the same on SQLite
from crm.web.bodies import METHODS_WITH_BODIES
from crm.web.errors import PROBLEM_JSON, TITLES

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.openapi.spec import Schema
    from litestar.typing import FieldDefinition

SECURITY_SCHEME = "BearerToken"
# Anyone may call it; with a key the caller may see more (admins see unlisted records). The empty requirement
# overrides the document's global ``security`` for this operation.
PUBLIC_READ: list[dict[str, list[str]]] = [{}, {SECURITY_SCHEME: []}]


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


class StrictStructSchemaPlugin(StructSchemaPlugin):
    """Litestar documents every Struct as open to extra properties; msgspec refuses them (a 400) when the struct
    says ``forbid_unknown_fields=True``. Registered before Litestar's own struct plugin, so it wins."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        if field_definition.type_.__struct_config__.forbid_unknown_fields:
            schema.additional_properties = False
        for name, prop in (schema.properties or {}).items():
            if name.endswith(("_id", "_ids")):
                _bound_ids(prop)
        return schema


def _bound_ids(schema: Any) -> None:
    """A record reference (``host_organisation_id``, ``topic_ids``...) in a body has the range of a key: beyond it
    PostgreSQL cannot even compare it (a 400) while SQLite finds no such record, so the document says 1..MAX_ID."""
    if getattr(schema, "type", None) == OpenAPIType.INTEGER:
        schema.minimum = 1 if schema.minimum is None else schema.minimum
        schema.maximum = MAX_ID if schema.maximum is None else schema.maximum
    for inner in [*(getattr(schema, "one_of", None) or []), *(getattr(schema, "any_of", None) or [])]:
        _bound_ids(inner)
    if getattr(schema, "items", None) is not None:
        _bound_ids(schema.items)


@dataclass
class ApiOperation(Operation):
    """An operation whose integer path parameters (record ids) carry the range of ids that can exist."""

    def to_schema(self) -> dict[str, Any]:
        document = super().to_schema()
        for parameter in document.get("parameters", []):
            schema = parameter.get("schema", {})
            if parameter.get("in") == "path" and schema.get("type") == "integer":
                schema.setdefault("minimum", 1)
                schema.setdefault("maximum", MAX_ID)
        return document


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
            if methods & METHODS_WITH_BODIES:
                statuses.add(413)
            existing: dict[int, Any] = dict(handler.responses or {})
            for status in statuses:
                current = existing.get(status)
                if current is None or (status == 400 and current.media_type != PROBLEM_JSON):
                    existing[status] = _spec(status)
            handler.responses = existing
            handler.operation_class = ApiOperation
    correct_options_allow(app)


def correct_options_allow(app: Litestar) -> None:
    """Litestar builds a path's automatic ``OPTIONS`` handler with the route that first registered the path; when
    a second router adds methods to it (public reads and key-only writes live on different routers), the handler
    still reads the first route's methods and answers e.g. ``Allow: GET, OPTIONS`` on a path that takes POST.
    Point each automatic handler at the route that now serves the path."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or "OPTIONS" not in route.route_handler_map:
            continue
        handler = route.route_handler_map["OPTIONS"][0]
        fn = getattr(handler.fn, "__func__", handler.fn)
        if fn.__name__ != "options_handler" or not fn.__closure__:
            continue  # an OPTIONS handler of our own
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__, strict=True):
            if name == "self" and isinstance(cell.cell_contents, HTTPRoute):
                cell.cell_contents = route
