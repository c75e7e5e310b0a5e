"""The fellow's campaign pages: list, write (Markdown with a live preview), duplicate, history."""

from __future__ import annotations

route_handlers: list[object] = []
