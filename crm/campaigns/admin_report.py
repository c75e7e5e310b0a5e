"""What happened to a campaign: delivery and engagement figures, clicks per link, CSV."""

from __future__ import annotations

route_handlers: list[object] = []
