"""File downloads (CSV, iCalendar, JSON, Atom): one place that writes their Content-Type and Content-Disposition.

Litestar appends ``; charset=utf-8`` to every ``text/*`` media type itself, so a type written with its charset came
out as ``text/csv; charset=utf-8; charset=utf-8``, which strict clients reject. Here ``text/*`` types are given
without a charset and every other type with one; the file name is quoted and stripped of characters a header
cannot carry.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, Iterable, Mapping
from typing import Any

from litestar import Response
from litestar.response import Stream

CSV = "text/csv"
JSON = "application/json; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


def calendar_type(method: str | None = None) -> str:
    """``text/calendar`` with its iTIP method when the object carries one (RFC 6047 §2.4)."""
    return f"text/calendar; method={method}" if method else "text/calendar"


def media_type_for(kind: str) -> str:
    """The media type as it must be handed to Litestar: no charset on ``text/*`` (Litestar adds it)."""
    if kind.startswith("text/"):
        return "; ".join(p for p in (part.strip() for part in kind.split(";")) if p and not p.startswith("charset="))
    return kind


def _headers(filename: str | None, extra: Mapping[str, str] | None) -> dict[str, str]:
    headers = dict(extra or {})
    if filename is not None:
        safe = _UNSAFE_IN_NAME.sub("-", filename).strip(" .-") or "download"
        headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    return headers


def download(
    body: str | bytes,
    kind: str,
    filename: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response[Any]:
    """A whole file in one response; ``filename=None`` shows it inline (a feed)."""
    return Response(body, media_type=media_type_for(kind), headers=_headers(filename, headers))


def download_stream(
    chunks: Iterable[str | bytes] | AsyncIterable[str | bytes],
    kind: str,
    filename: str,
    headers: Mapping[str, str] | None = None,
) -> Stream:
    """A file streamed chunk by chunk (large exports keep memory flat)."""
    return Stream(chunks, media_type=media_type_for(kind), headers=_headers(filename, headers))
