"""Routes of the mailing domain: subscribe, preferences, unsubscribe, webhooks, admin views."""

from __future__ import annotations

from typing import Any

route_handlers: list[Any] = []
