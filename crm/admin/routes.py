"""The fellow's admin home and the mail outbox viewer."""

from __future__ import annotations

from typing import Any

from litestar import Response, Router, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from sqlalchemy import func, select

from crm import models as m
from crm.web.auth import admin_guard, signed_in_guard
from crm.web.deps import DB

PAGE_SIZE = 50


@get("/", guards=[signed_in_guard], sync_to_thread=False)
def admin_home(db: DB) -> Template:
    counts = dict(db.execute(select(m.OutboxMessage.status, func.count()).group_by(m.OutboxMessage.status)).all())
    return Template("admin/home.html", context={"outbox_counts": counts})


@get("/mail", guards=[admin_guard], sync_to_thread=False)
def outbox_list(
    db: DB, status: FromQuery[str] = "", q: FromQuery[str] = "", before: FromQuery[int | None] = None
) -> Template:
    """Newest first, keyset-paged by id so deep pages cost the same as the first."""
    query = select(
        m.OutboxMessage.id,
        m.OutboxMessage.kind,
        m.OutboxMessage.recipient,
        m.OutboxMessage.subject,
        m.OutboxMessage.status,
        m.OutboxMessage.attempts,
        m.OutboxMessage.created_at,
        m.OutboxMessage.sent_at,
        m.OutboxMessage.last_error,
    ).order_by(m.OutboxMessage.id.desc())
    if status in {s.value for s in m.OutboxStatus}:
        query = query.where(m.OutboxMessage.status == status)
    if q:
        query = query.where(m.OutboxMessage.recipient.contains(q.strip().lower(), autoescape=True))
    if before:
        query = query.where(m.OutboxMessage.id < before)
    rows = db.execute(query.limit(PAGE_SIZE + 1)).all()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return Template(
        "admin/mail_list.html",
        context={
            "rows": rows,
            "status": status,
            "q": q,
            "statuses": [s.value for s in m.OutboxStatus],
            "next_before": rows[-1].id if more and rows else None,
        },
    )


def _message(db: DB, message_id: FromPath[int]) -> m.OutboxMessage:
    message = db.get(m.OutboxMessage, message_id)
    if message is None:
        raise NotFoundException("No such message.")
    return message


@get("/mail/{message_id:int}", guards=[admin_guard], sync_to_thread=False)
def outbox_detail(db: DB, message_id: FromPath[int]) -> Template:
    return Template("admin/mail_detail.html", context={"message": _message(db, message_id)})


@get("/mail/{message_id:int}/html", guards=[admin_guard], sync_to_thread=False)
def outbox_html(db: DB, message_id: FromPath[int]) -> Response[Any]:
    """The rendered HTML, framed by the detail page, with a CSP that allows only inline styles and no scripts."""
    message = _message(db, message_id)
    return Response(
        message.html_body or "<p>(no HTML part)</p>",
        media_type="text/html",
        headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
            "frame-ancestors 'self'; sandbox",
            "X-Frame-Options": "SAMEORIGIN",
        },
    )


admin_router = Router(
    path="/admin",
    route_handlers=[admin_home, outbox_list, outbox_detail, outbox_html],
    include_in_schema=False,
)
route_handlers = [admin_router]
