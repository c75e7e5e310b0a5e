"""Writing audit entries: every change by a signed-in user records who, when, which record, which fields."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.principal import Principal


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    return str(value)


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Fields whose value changed, as ``{field: [old, new]}``."""
    return {
        key: [_plain(before.get(key)), _plain(after.get(key))]
        for key in sorted(set(before) | set(after))
        if _plain(before.get(key)) != _plain(after.get(key))
    }


def record(
    session: Session,
    actor: Principal | None,
    action: str,
    entity: str,
    entity_id: int | None,
    *,
    summary: str = "",
    changes: dict[str, Any] | None = None,
) -> m.AuditEntry:
    entry = m.AuditEntry(
        user_id=actor.id if actor and actor.id > 0 else None,
        actor=actor.email if actor else "system",
        action=action,
        entity=entity,
        entity_id=entity_id,
        summary=summary[:500],
        changes=changes or {},
    )
    session.add(entry)
    return entry


def record_changes(
    session: Session,
    actor: Principal | None,
    entity: str,
    entity_id: int | None,
    before: dict[str, Any],
    after: dict[str, Any],
    *,
    summary: str = "",
    action: str = "updated",
) -> dict[str, Any]:
    """The fields that changed between two snapshots, recorded only when something did; returns them.

    A new record is ``before={}`` (``action="created"``), a deleted one ``after={}`` (``action="deleted"``)."""
    changes = diff(before, after)
    if changes:
        record(session, actor, action, entity, entity_id, summary=summary, changes=changes)
    return changes
