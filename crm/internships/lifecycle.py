"""Listing lifecycle jobs and emails: closing at the closing date, the host reminder and its signed link,
moderation emails."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from crm import models as m
from crm.db import batched
from crm.errors import NotFound
from crm.internships.rules import REMINDER_LEAD, I, Status
from crm.mailing.outbox import enqueue
from crm.mailing.render import EmailRenderer

MANAGE_PURPOSE = "internship-manage"  # crm.tokens.PURPOSES: a host's private link to manage their listing


def email_host(
    session: Session,
    renderer: EmailRenderer,
    internship: m.Internship,
    host_name: str,
    *,
    key: str,
    kind: str,
    reply_to: str = "",
    **context: Any,
) -> None:
    """An email (template named ``kind``) to the listing's host contact, who is greeted by name, about the listing;
    ``reply_to`` (an applicant) is where the host's reply goes, instead of the product's own address."""
    enqueue(
        session,
        renderer,
        key=key,
        kind=kind,
        to=internship.host_contact_email,
        to_name=internship.host_contact_name,
        headers={"Reply-To": reply_to} if reply_to else None,
        context={
            "internship_title": internship.title,
            "host_name": host_name,
            "contact_name": internship.host_contact_name,
            **context,
        },
    )


def manage_url(signer: Any, internship: m.Internship, base_url: str) -> str:
    """The host's private manage link (crm.internships.hosting); a listing without a key gets one."""
    if not internship.manage_key:
        internship.manage_key = secrets.token_urlsafe(24)
    token = signer.sign(MANAGE_PURPOSE, {"i": internship.id, "k": internship.manage_key})
    return f"{base_url.rstrip('/')}/internships/manage/{internship.id}?token={token}"


def close_expired(session: Session, *, now: dt.datetime) -> int:
    """Published listings whose closing date has passed become closed (their page stays).

    Three statements per 1,000 listings: a backlog after downtime never exceeds the database's bound-parameter limit.
    """
    ids = list(session.scalars(select(I.id).where(I.status == Status.PUBLISHED, I.closes_at <= now)))
    for chunk in batched(ids):
        session.execute(
            update(I)
            .where(I.id.in_(chunk), I.status == Status.PUBLISHED)
            .values(status=Status.CLOSED, closed_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            insert(m.AuditEntry),
            [
                {
                    "at": now,
                    "actor": "system",
                    "action": "close",
                    "entity": "internship",
                    "entity_id": i,
                    "summary": "Closed automatically at the closing date",
                    "changes": {"status": ["published", "closed"]},
                }
                for i in chunk
            ],
        )
    return len(ids)


def send_closing_reminders(
    session: Session, renderer: EmailRenderer, signer: Any, base_url: str, *, now: dt.datetime
) -> int:
    """A week before the closing date, ask the host whether the placement is filled (once per closing date)."""
    rows = list(
        session.execute(
            select(I, m.Organisation.name.label("host_name"))
            .join(m.Organisation, m.Organisation.id == I.host_organisation_id)
            .where(
                I.status == Status.PUBLISHED,
                I.reminder_sent_at.is_(None),
                I.closes_at > now,
                I.closes_at <= now + REMINDER_LEAD,
                I.host_contact_email != "",
            )
            .order_by(I.id)
            .limit(500)
        )
    )
    sent = 0
    for internship, host_name in rows:
        token = signer.sign("internship-host", {"i": internship.id, "c": internship.closing_date.isoformat()})
        email_host(
            session,
            renderer,
            internship,
            host_name,
            key=f"internship-reminder:{internship.id}:{internship.closing_date.isoformat()}",
            kind="internship_reminder",
            closing_date=internship.closing_date,
            host_url=f"{base_url.rstrip('/')}/internships/{internship.slug}/host?token={token}",
            # A host without an account can extend the closing date from their private page.
            manage_url=manage_url(signer, internship, base_url) if internship.host_posted else "",
            page_url=f"{base_url.rstrip('/')}/internships/{internship.slug}",
        )
        internship.reminder_sent_at = now
        sent += 1
    session.flush()
    return sent


def host_token_internship(session: Session, signer: Any, token: str) -> m.Internship:
    """The listing a host's emailed "is it filled?" link is for; raises ``TokenError`` or ``NotFound``."""
    payload = signer.verify("internship-host", token)
    internship = session.get(m.Internship, int(payload["i"])) if isinstance(payload, dict) else None
    if internship is None:
        raise NotFound("That internship no longer exists.")
    return internship


def notify_submitted(session: Session, renderer: EmailRenderer, internship: m.Internship, base_url: str) -> int:
    """Tell the fellow (every active admin) that a listing waits for approval. Once per submission."""
    if internship.status != Status.SUBMITTED or internship.submitted_at is None:
        return 0
    host = session.scalar(select(m.Organisation.name).where(m.Organisation.id == internship.host_organisation_id))
    admins = session.execute(
        select(m.User.email, m.User.name).where(m.User.role == m.Role.ADMIN, m.User.is_active.is_(True)).limit(20)
    ).all()
    stamp = internship.submitted_at.strftime("%Y%m%dT%H%M%S%f")
    for email, name in admins:
        enqueue(
            session,
            renderer,
            key=f"internship-submitted:{internship.id}:{stamp}:{email}",
            kind="internship_submitted",
            to=email,
            to_name=name,
            context={
                "internship_title": internship.title,
                "host_name": host or "",
                "admin_url": f"{base_url.rstrip('/')}/admin/internships/{internship.id}",
            },
        )
    return len(admins)


def notify_reviewed(
    session: Session, renderer: EmailRenderer, internship: m.Internship, action: str, base_url: str
) -> bool:
    """Tell the editor who posted a listing that the fellow approved it or returned it (with the note)."""
    if action not in {"approve", "reject"} or internship.created_by_user_id is None or internship.reviewed_at is None:
        return False
    poster = session.execute(
        select(m.User.email, m.User.name, m.User.role).where(m.User.id == internship.created_by_user_id)
    ).first()
    if poster is None or poster.role == m.Role.ADMIN:
        return False
    base = base_url.rstrip("/")
    enqueue(
        session,
        renderer,
        key=f"internship-reviewed:{internship.id}:{action}:{internship.reviewed_at.strftime('%Y%m%dT%H%M%S%f')}",
        kind="internship_reviewed",
        to=poster.email,
        to_name=poster.name,
        context={
            "internship_title": internship.title,
            "approved": action == "approve",
            "note": internship.review_note,
            "page_url": f"{base}/internships/{internship.slug}",
            "admin_url": f"{base}/admin/internships/{internship.id}",
        },
    )
    return True
