"""/api/v1/campaigns: list, create and update drafts, one campaign with its figures; sending needs an admin."""

from __future__ import annotations

route_handlers: list[object] = []
