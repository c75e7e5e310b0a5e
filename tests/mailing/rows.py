"""Queued bulk outbox rows for the dispatcher's tests (one copy; three test modules each had their own)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from crm import models as m


def queue_bulk(db: Session, n: int, prefix: str, now: dt.datetime, *, subject: str = "S") -> list[int]:
    """``n`` bulk event-news rows with bodies, due a minute before ``now``, keyed and addressed ``{prefix}{i}``;
    ``subject`` may name ``{i}``. Committed; their ids in order."""
    db.execute(
        insert(m.OutboxMessage),
        [
            {
                "idempotency_key": f"{prefix}{i}",
                "kind": "event_news",
                "recipient": f"{prefix}{i}@example.org",
                "subject": subject.format(i=i),
                "text_body": "t",
                "html_body": "<p>h</p>",
                "bulk": True,
                "next_attempt_at": now - dt.timedelta(minutes=1),
            }
            for i in range(n)
        ],
    )
    db.commit()
    o = m.OutboxMessage
    return sorted(db.scalars(select(o.id).where(o.idempotency_key.like(f"{prefix}%"))))
