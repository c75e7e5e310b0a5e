"""Routes of the internships domain (filled in by its issue)."""

from __future__ import annotations

from typing import Any

route_handlers: list[Any] = []
