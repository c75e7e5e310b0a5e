"""Adding emails to the outbox, in the caller's transaction, at most once per idempotency key.

Nothing sends inline: the dispatcher picks rows up after the caller's transaction commits, so an email is
never sent for a change that rolled back, and never lost for one that committed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm import models as m
from crm.mailing.render import EmailRenderer


def _insert_ignore(session: Session):  # type: ignore[no-untyped-def]
    dialect = session.get_bind().dialect.name
    table = m.OutboxMessage.__table__
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=["idempotency_key"])
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=["idempotency_key"])
    return insert(table)


def enqueue(
    session: Session,
    renderer: EmailRenderer,
    *,
    key: str,
    kind: str,
    to: str,
    template: str,
    context: dict[str, Any],
    to_name: str = "",
    bulk: bool = False,
    headers: dict[str, str] | None = None,
    attachments: list[dict[str, Any]] | None = None,
    subscription_id: int | None = None,
    contact_id: int | None = None,
) -> int | None:
    """Render now and insert; returns the new row id, or None when ``key`` was already queued."""
    if any(c in to + to_name for c in "\r\n"):
        raise ValueError("newline in an email header value")
    rendered = renderer.render(template, context)
    values = {
        "idempotency_key": key,
        "kind": kind,
        "bulk": bulk,
        "recipient": to.strip().lower(),
        "recipient_name": to_name,
        "subject": rendered.subject,
        "text_body": rendered.text,
        "html_body": rendered.html,
        "headers": headers or {},
        "attachments": attachments or [],
        "template": template,
        "status": m.OutboxStatus.QUEUED,
        "subscription_id": subscription_id,
        "contact_id": contact_id,
    }
    result = session.execute(_insert_ignore(session).values(**values).returning(m.OutboxMessage.id))
    row = result.first()
    return row[0] if row else None


def message_for_key(session: Session, key: str) -> m.OutboxMessage | None:
    return session.scalar(select(m.OutboxMessage).where(m.OutboxMessage.idempotency_key == key))
