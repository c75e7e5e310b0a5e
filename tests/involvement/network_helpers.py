"""Shared steps of the network, fit, alerts and matching tests: join through the form, confirm through the emailed
link, read links out of queued emails."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from crm import models as m
from crm.involvement import network
from tests.conftest import post_form


def join_form(email: str, name: str = "Robin Member", **changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "name": name,
        "email": email,
        "online": "yes",
        "consent": "yes",
        "consent_version": network.CONSENT_VERSION,
    }
    form.update(changes)
    return form


def outbox(db: Any, kind: str, to: str | None = None) -> list[m.OutboxMessage]:
    db.expire_all()
    query = select(m.OutboxMessage).where(m.OutboxMessage.kind == kind).order_by(m.OutboxMessage.id)
    if to is not None:
        query = query.where(m.OutboxMessage.recipient == to)
    return list(db.scalars(query))


def link(message: m.OutboxMessage, path: str) -> str:
    """The first link in the email's text whose path starts with ``path``, as a path the test client can open."""
    found = re.search(r"https?://[^/\s]+(" + re.escape(path) + r"[^\s<>\"]*)", message.text_body)
    assert found, f"no {path} link in: {message.text_body}"
    return found.group(1)


def join_and_confirm(client: Any, db: Any, email: str, **changes: Any) -> m.NetworkMember:
    """A confirmed member through the real pages."""
    r = post_form(client, "/involvement/network", join_form(email, **changes))
    assert r.status_code == 200, r.text
    confirm = link(outbox(db, "involvement_network_confirm", email)[-1], "/involvement/network/confirm/")
    assert post_form(client, confirm).status_code == 200
    db.expire_all()
    member = network.by_email(db, email)
    assert member is not None and member.status == m.NetworkMemberStatus.ACTIVE
    return member


def path_of(url: str) -> str:
    """An absolute link as the path the test client opens."""
    return "/" + url.split("://", 1)[1].split("/", 1)[1]
