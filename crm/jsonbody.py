"""JSON bodies from outside (the API, the SendGrid webhook) with bounded nesting.

A hostile body such as ``[`` × 5,000 makes a plain decoder recurse until Python gives up (``RecursionError``, a
500). Decoding against a type nested at most N levels refuses deeper input at level N+1 without recursing further,
so it is an ordinary ``ValueError`` the caller answers with a 400.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec

_SCALAR: Any = str | int | float | bool | None


def bounded_value(depth: int) -> Any:
    """The type of a JSON value nested at most ``depth`` arrays/objects deep."""
    value: Any = _SCALAR
    for _ in range(depth):
        value = _SCALAR | list[value] | dict[str, value]  # type: ignore[valid-type]
    return value


# API bodies are records with a list of members or deadlines: 3 levels deep; 10 leaves room for any honest client.
# (Not much more: building the typed decoder costs about 2.5x more per level, 30 ms at 10, 130 ms at 12.)
API_MAX_DEPTH = 10


@functools.cache
def _decoder(depth: int) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(bounded_value(depth))


class TooDeep(ValueError):
    """The JSON nests arrays/objects more deeply than allowed."""


def check_depth(body: bytes, depth: int = API_MAX_DEPTH) -> None:
    """Raise ``TooDeep`` when ``body`` nests more than ``depth`` levels. Malformed JSON is left to the caller's own
    decoder (which reports it as it always has)."""
    try:
        _decoder(depth).decode(body)
    except msgspec.ValidationError as exc:
        raise TooDeep(f"the JSON is nested more than {depth} levels deep") from exc
    except msgspec.DecodeError:
        return
