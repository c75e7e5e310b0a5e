"""Placeholder: filled by the involvement work (issue 18)."""

from typing import Any

route_handlers: list[Any] = []
