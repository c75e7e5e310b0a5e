"""Test, schedule, send and cancel a campaign."""

from __future__ import annotations

route_handlers: list[object] = []
