"""Keyset cursors of the lists (``crm.listing``): the direction, the sort key and the last row's (sort value, id),
as URL-safe base64 of compact JSON. Opaque to users and harmless if tampered with: a cursor that does not decode
for the list's sort is ``None`` and the list starts again at its first page."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import msgspec


def _encode_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"d": value.isoformat()}
    if hasattr(value, "value") and not isinstance(value, int | float | str):  # enums
        return value.value
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "dt" in value:
            moment = dt.datetime.fromisoformat(value["dt"])
            return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # we only write aware ones
        if "d" in value:
            return dt.date.fromisoformat(value["d"])
    return value


def encode_cursor(direction: str, sort_key: str, value: Any, row_id: int) -> str:
    raw = msgspec.json.encode([direction, sort_key, _encode_value(value), row_id])  # what json.dumps wrote, compact
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort_key: str) -> tuple[str, Any, int] | None:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        direction, key, value, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if key != sort_key or direction not in {"next", "prev"} or not isinstance(row_id, int):
            return None
        return direction, _decode_value(value), row_id
    except (ValueError, TypeError):
        return None
