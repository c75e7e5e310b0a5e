"""The segment builder: who a campaign goes to, who is left out and why, the lawful basis of each part."""

from __future__ import annotations

route_handlers: list[object] = []
