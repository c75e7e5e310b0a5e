"""The admin home moved to crm/dashboard/routes.py (the fellow's dashboard at ``GET /admin``).

The mail outbox, subscriber and suppression views live in crm/mailing/routes.py.
"""

from __future__ import annotations

from typing import Any

route_handlers: list[Any] = []
