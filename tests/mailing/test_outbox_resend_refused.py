"""Resending a message that may not be resent (already sent or queued again: a second tab, or the worker got there
first) says nothing was queued; it said "The message is queued again." and changed nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from crm import models as m
from tests.conftest import post_form


def _message(db, status: m.OutboxStatus) -> m.OutboxMessage:
    msg = m.OutboxMessage(
        idempotency_key=f"resend-{status.value}",
        kind="sign_in",
        recipient="a@example.org",
        subject="Hello",
        status=status,
        attempts=1,
        last_error="",
        provider_message_id="",
        text_body="t",
        html_body="<p>h</p>",
    )
    db.add(msg)
    db.commit()
    return msg


def test_resending_a_sent_message_says_nothing_was_queued(admin_client, db):
    msg = _message(db, m.OutboxStatus.SENT)
    r = post_form(admin_client, f"/admin/mail/{msg.id}/resend", follow_redirects=False)
    assert r.status_code == 303
    page = admin_client.get(r.headers["location"]).text
    assert "The message is queued again." not in page
    assert "Nothing was queued" in page
    db.expire_all()
    assert db.get(m.OutboxMessage, msg.id).status == m.OutboxStatus.SENT
    assert db.scalar(select(func.count()).select_from(m.AuditEntry)) == 0
