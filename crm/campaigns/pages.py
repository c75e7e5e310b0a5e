"""Public news: the /news archive, a page per item, the Atom feed."""

from __future__ import annotations

route_handlers: list[object] = []
