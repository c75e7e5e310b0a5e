"""API answers encoded once, by the handler: for the hot public lists (issue 21.1).

A handler returning a Struct has Litestar pick a serialiser, run msgspec with its type encoders and build the
response from the result; a list that already holds its page as Structs can encode it itself and hand Litestar
the bytes. The handler keeps ``Response[SomeStruct]`` as its return type, so the OpenAPI document is the same.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import MediaType, Response

encode_json = msgspec.json.Encoder().encode  # ``content`` (Structs, lists, dates...) as Litestar would encode it


def json_response(content: Any, status_code: int = 200) -> Response[Any]:
    """``content`` as the JSON response Litestar would have sent for it."""
    return Response(encode_json(content), status_code=status_code, media_type=MediaType.JSON)
