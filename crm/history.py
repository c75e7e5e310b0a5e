"""Reading a record's audit history for its page (one statement, newest first)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m


def history(session: Session, entity: str, entity_id: int, limit: int = 50) -> list[Any]:
    return list(
        session.execute(
            select(m.AuditEntry.at, m.AuditEntry.actor, m.AuditEntry.action, m.AuditEntry.summary, m.AuditEntry.changes)
            .where(m.AuditEntry.entity == entity, m.AuditEntry.entity_id == entity_id)
            .order_by(m.AuditEntry.id.desc())
            .limit(limit)
        )
    )
