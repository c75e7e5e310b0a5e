"""The fellow's admin home. (The mail outbox, subscriber and suppression views live in crm/mailing/routes.py.)"""

from __future__ import annotations

from litestar import Router, get
from litestar.response import Template
from sqlalchemy import func, select

from crm import models as m
from crm.web.auth import signed_in_guard
from crm.web.deps import DB


@get("/", guards=[signed_in_guard], sync_to_thread=False)
def admin_home(db: DB) -> Template:
    counts = dict(db.execute(select(m.OutboxMessage.status, func.count()).group_by(m.OutboxMessage.status)).all())
    return Template("admin/home.html", context={"outbox_counts": counts})


admin_router = Router(path="/admin", route_handlers=[admin_home], include_in_schema=False)
route_handlers = [admin_router]
