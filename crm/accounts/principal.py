"""Who is acting: the signed-in person or API key, as services see them (audit entries, ownership rules).

It lives below the web layer so services can take a ``Principal`` without importing HTTP code; the web
middleware (``crm.web.auth``) builds one per request.
"""

from __future__ import annotations

import dataclasses
import hashlib

from crm import models as m


@dataclasses.dataclass(frozen=True, slots=True)
class Principal:
    id: int
    email: str
    name: str
    role: m.Role
    organisation_id: int | None
    via: str  # "session" or "api_key"

    def has_role(self, role: m.Role) -> bool:
        return m.ROLE_RANK[self.role] >= m.ROLE_RANK[role]

    @property
    def is_admin(self) -> bool:
        return self.role == m.Role.ADMIN


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
