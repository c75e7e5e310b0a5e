"""The SMTP path's database cost stays at most one SQL statement per 20 emails (issue 15.4: ≤ 0.05 per email):
1,000 queued emails drained by the dispatcher through SMTPTransport into a local aiosmtpd sink, statements counted
on the engine. A statement count, never a timing."""

from __future__ import annotations

from sqlalchemy import event, insert

from crm import models as m
from crm.db import create_session_factory
from crm.domains import EXTENSIONS
from crm.mailing.dispatch import drain
from crm.mailing.transports.smtp import SMTPTransport

N = 1000


def test_draining_a_thousand_emails_through_smtp_costs_at_most_fifty_statements(db, settings, smtp_sink):
    handler, port = smtp_sink
    rows = [
        {
            "idempotency_key": f"smtp-statements-{i}",
            "kind": "notice",
            "recipient": f"r{i}@example.org",
            "recipient_name": f"Reader {i}",
            "subject": f"Notice {i}",
            "text_body": f"Hello reader {i}.\n",
            "html_body": f"<p>Hello reader {i}.</p>",
            "headers": {},
            "attachments": [],
            "status": m.OutboxStatus.QUEUED,
        }
        for i in range(N)
    ]
    db.execute(insert(m.OutboxMessage.__table__), rows)
    db.commit()
    smtp = settings.replace(smtp_host="127.0.0.1", smtp_port=port)
    engine = db.get_bind()
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    transport = SMTPTransport(smtp)
    event.listen(engine, "before_cursor_execute", count)
    try:
        stats = drain(create_session_factory(engine), transport, smtp, renderers=EXTENSIONS.deferred_renderers)
    finally:
        event.remove(engine, "before_cursor_execute", count)
        transport.close()
    assert stats.sent == N and len(handler.messages) == N
    assert len(statements) <= N // 20, statements
