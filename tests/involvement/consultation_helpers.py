"""Builders for the consultation request tests (tests/involvement/test_consultation*.py)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.principal import Principal
from crm.involvement import consultation
from tests import factories

OPEN = m.VcseCategory.OPEN_CONSULTATIVE


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def today() -> dt.date:
    return consultation.today(now())


def fellow(user_id: int = 0) -> Principal:
    return Principal(
        id=user_id,
        email="fellow@example.org",
        name="Fran Fellow",
        role=m.Role.ADMIN,
        organisation_id=None,
        via="session",
    )


def editor(user_id: int, organisation_id: int | None) -> Principal:
    return Principal(
        id=user_id,
        email=f"editor{user_id}@uni.example.ac.uk",
        name=f"Editor {user_id}",
        role=m.Role.EDITOR,
        organisation_id=organisation_id,
        via="session",
    )


def request_form(**overrides: Any) -> dict[str, Any]:
    data = {
        "title": "Young carers and sleep",
        "researcher_name": "Dr Rae Researcher",
        "project_summary": "We want to understand how caring at night affects young carers' sleep.\n\nIt is a small study.",
        "feedback_wanted": "Comments on our draft questions, in one online meeting of an hour.",
        "answer_by": (today() + dt.timedelta(days=21)).isoformat(),
        "offer_payment": "£50 per group session",
        "offer_expenses": "1",
        "offer_acknowledgement": "1",
        "reply_email": "Rae.Researcher@Uni.example.ac.uk",
        "nudge_after_days": "7",
    }
    data.update(overrides)
    return data


def make_request(db: Session, actor: Principal | None = None, **overrides: Any) -> m.ConsultationRequest:
    actor = actor or fellow()
    return consultation.create(db, actor, consultation.validate(db, actor, request_form(**overrides), now=now()))


def group(
    db: Session,
    name: str | None = None,
    *,
    email: str | None = "",
    category: m.VcseCategory | None = OPEN,
    **columns: Any,
) -> m.Organisation:
    """A public VCSE involvement group; ``email=""`` invents a public address, ``None`` leaves it empty."""
    org = factories.organisation(db, name, m.OrgKind.VCSE, vcse_category=category, **columns)
    org.public_email = "" if email is None else (email or f"group{org.id}@groups.example.org")
    db.flush()
    return org


def outbox(db: Session, kind: str) -> list[m.OutboxMessage]:
    query = select(m.OutboxMessage).where(m.OutboxMessage.kind == kind).order_by(m.OutboxMessage.id)
    return list(db.scalars(query))


def answer_path(message: m.OutboxMessage) -> str:
    """The answer link in an email, as a path and query the test client can open."""
    match = re.search(r"https?://\S+/involvement/answer\?token=\S+", message.text_body or "")
    assert match, message.text_body
    parts = urlsplit(match.group(0))
    return f"{parts.path}?{parts.query}"


def token_of(path: str) -> str:
    return path.split("token=", 1)[1]
