"""The API's one rule for request bodies, checked before any handler decodes them: a body over
``API_MAX_BODY_BYTES`` is a 413, one not declared JSON a 415, JSON nested deeper than ``crm.jsonbody.API_MAX_DEPTH``
a 400 and JSON holding a NUL character a 422, all as problem details. Without it ``[`` × 5,000 made the JSON decoder
recurse into a 500. It runs as the app's ``before_request`` hook so every ``/api/`` route, present and future, is
covered whatever router it hangs on."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request
from litestar.exceptions import ClientException

from crm.jsonbody import TooDeep, check_depth

# The largest honest API body is a record with a 5,000-character description and a few members: a few KB.
API_MAX_BODY_BYTES = 1024 * 1024
METHODS_WITH_BODIES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A JSON string's NUL (``\u0000`` after an even run of backslashes, so not an escaped backslash followed by "u0000"):
# PostgreSQL's text cannot hold it, and SQLite would keep an invisible character no one typed on purpose.
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _too_large() -> ClientException:
    return ClientException(
        status_code=413, detail=f"The request body is larger than the API accepts ({API_MAX_BODY_BYTES:,} bytes)."
    )


async def guard_api_body(request: Request[Any, Any, Any]) -> None:
    if request.method not in METHODS_WITH_BODIES or not request.url.path.startswith("/api/"):
        return
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > API_MAX_BODY_BYTES:
        raise _too_large()  # refused before reading it
    body = await request.body()  # cached: the handler's decoder reads the same bytes
    if len(body) > API_MAX_BODY_BYTES:
        raise _too_large()
    if body:
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != "application/json" and not media_type.endswith("+json"):
            # Not only tidiness: the API takes the session cookie, and is exempt from the CSRF token because another
            # site cannot send a JSON content type without a CORS preflight (which we never allow). A text/plain
            # body needs no preflight, so accepting one let any page the fellow visited write through her session.
            raise ClientException(
                status_code=415,
                detail=f"Send the request body as JSON, with Content-Type: application/json (it was "
                f"{media_type or 'not given'}).",
            )
        try:
            check_depth(body)
        except TooDeep as exc:
            raise ClientException(status_code=400, detail=f"The request body is not accepted: {exc}.") from exc
        if _NUL_ESCAPE.search(body):
            raise ClientException(  # well-formed JSON with a value the records cannot hold: 422, as a bad field
                status_code=422,
                detail="The request body is not accepted: a text value contains a NUL character (\\u0000); remove it.",
            )
