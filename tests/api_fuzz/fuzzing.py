"""Shared by the bounded fuzz test (``make test``) and the long run (``bench/fuzz.py``): schemathesis
generates requests for every operation of ``/schema/openapi.json`` and checks each response, in process
(ASGI), as an admin API key and anonymously."""

from __future__ import annotations

import dataclasses
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.security.routes import IN_HANDLER_ROLES, PUBLIC_API_READS, PUBLIC_API_WRITES

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
FUZZED_PREFIXES = ("/api/", "/health")  # the HTML form routes in the document are not an API (reported)


def is_public(method: str, path: str) -> bool:
    if method.upper() == "GET":
        return path in PUBLIC_API_READS or path == "/health"
    return (method.upper(), path) in PUBLIC_API_WRITES


def load_schema(app: Any) -> Any:
    return schemathesis.openapi.from_asgi("/schema/openapi.json", app)


def operation_ids(app: Any) -> list[tuple[str, str]]:
    ids = []
    for result in load_schema(app).get_all_operations():
        op = result.ok()
        if op.path.startswith(FUZZED_PREFIXES):
            ids.append((op.method.upper(), op.path))
    return ids


def find_operation(schema: Any, method: str, path: str) -> Any:
    for result in schema.get_all_operations():
        op = result.ok()
        if op.method.upper() == method and op.path == path:
            return op
    raise LookupError(f"{method} {path} is not in the OpenAPI document")


@dataclasses.dataclass
class Outcome:
    who: str
    calls: int = 0
    failure: str = ""


def fuzz(operation: Any, headers: dict[str, str], who: str, max_examples: int, seed: int = 42) -> Outcome:
    """Run ``max_examples`` generated cases; the first failing response ends the run (no shrinking)."""
    outcome = Outcome(who)
    anonymous_private = not headers and not is_public(operation.method, operation.path)
    refused = {401, 403}
    if (operation.method.upper(), operation.path) in IN_HANDLER_ROLES:
        # The role is checked inside the handler, after Litestar validated the body: a malformed body gets
        # its 400/422 first. Nothing is read or written; a guard on the handler would make this 401.
        refused |= {400, 422}

    @given(case=operation.as_strategy())
    @settings(
        max_examples=max_examples,
        derandomize=seed is not None,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
        print_blob=False,
    )
    def run(case: Any) -> None:
        outcome.calls += 1
        response = case.call(headers=headers)
        if anonymous_private and response.status_code not in refused:
            raise AssertionError(
                f"anonymous {case.method} {case.formatted_path} answered {response.status_code}, not 401/403"
            )
        case.validate_response(response, checks=CHECKS, headers=headers)

    try:
        run()
    except BaseException as exc:  # schemathesis raises an ExceptionGroup of failures
        if isinstance(exc, KeyboardInterrupt):
            raise
        outcome.failure = str(exc).strip()[:3000]
    return outcome
