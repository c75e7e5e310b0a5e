"""Adding emails to the outbox, in the caller's transaction, at most once per idempotency key; queueing a failed
one again (the outbox viewer's resend).

Nothing sends inline: the dispatcher picks rows up after the caller's transaction commits, so an email is
never sent for a change that rolled back, and never lost for one that committed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.principal import Principal
from crm.audit import record
from crm.db import insert_ignore
from crm.mailing.compliance import REQUIRED_FOOTER_KEYS, bulk_context, list_unsubscribe_headers
from crm.mailing.render import EmailRenderer, RenderedEmail
from crm.tokens import Signer


class InvalidAddress(ValueError):
    """The address cannot receive email (malformed); the message says why, in plain words."""


def normalise_address(address: str) -> str:
    """Lower-cased, validated address; raises ``InvalidAddress`` with a message a person can act on."""
    from email_validator import EmailNotValidError, validate_email

    raw = (address or "").strip()
    if not raw:
        raise InvalidAddress("Enter an email address.")
    if any(c in raw for c in "\r\n,;<>"):
        raise InvalidAddress("An email address cannot contain line breaks, commas, semicolons or angle brackets.")
    try:
        info = validate_email(raw, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise InvalidAddress(f"{raw!r} is not a valid email address: {exc}") from exc
    return info.normalized.lower()


def check_header_value(value: str, what: str) -> None:
    if any(c in value for c in "\r\n\x00"):
        raise ValueError(f"newline in an email header value ({what})")


def _insert_ignore(session: Session) -> Any:
    return insert_ignore(session.get_bind().dialect.name, m.OutboxMessage.__table__, ["idempotency_key"])


def enqueue(session: Session, renderer: EmailRenderer, **fields: Any) -> int | None:
    """Render now and insert; returns the new row id, or None when ``key`` was already queued.

    ``fields`` are ``_row``'s: key, kind, to, context and the optional ones. The templates are ``email/<template>.*``,
    named after the ``kind`` unless ``template`` says otherwise. Raises ``ValueError`` for header injection (a newline
    in the name or a header) and ``InvalidAddress`` for a malformed recipient address.
    """
    return _insert_one(session, _row(renderer, **fields))


def _insert_one(session: Session, values: dict[str, Any]) -> int | None:
    """Insert one checked row; its id, or None when its idempotency key was already queued."""
    row = session.execute(_insert_ignore(session).values(**values).returning(m.OutboxMessage.id)).first()
    return row[0] if row else None


def _row(
    renderer: EmailRenderer,
    *,
    key: str,
    kind: str,
    to: str,
    context: dict[str, Any],
    template: str | None = None,
    to_name: str = "",
    bulk: bool = False,
    headers: dict[str, str] | None = None,
    attachments: list[dict[str, Any]] | None = None,
    subscription_id: int | None = None,
    contact_id: int | None = None,
    mailing: str | None = None,
    rendered: RenderedEmail | None = None,
) -> dict[str, Any]:
    """The outbox row ``enqueue`` inserts (checked, normalised and rendered)."""
    check_header_value(to, "recipient")
    check_header_value(to_name, "recipient name")
    for name, value in (headers or {}).items():
        check_header_value(f"{name}{value}", f"header {name}")
    to = normalise_address(to)
    template = template or kind
    rendered = rendered or renderer.render(template, context)
    return {
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
        "mailing": mailing,
    }


def message_for_key(session: Session, key: str) -> m.OutboxMessage | None:
    return session.scalar(select(m.OutboxMessage).where(m.OutboxMessage.idempotency_key == key))


class MissingFooter(ValueError):
    """A bulk email rendered without its compliance footer (unsubscribe, preferences, why, postal address)."""


def enqueue_bulk(session: Session, renderer: EmailRenderer, signer: Signer, **fields: Any) -> int | None:
    """Queue a bulk (subscription/marketing) email with RFC 8058 headers and the compliance footer.

    ``fields`` are ``_bulk_row``'s: key, kind, to, template, context, why, mailing and the optional ones.

    ``mailing`` names the mailing (``m.Mailing`` value) the unsubscribe link withdraws from (None = everything);
    it is also what the dispatcher re-checks against the subscription at claim time. The template must extend
    ``email/_bulk.html`` (HTML) and include ``email/_bulk_footer.txt`` (text); an email whose rendered parts lack
    the unsubscribe link is refused with ``MissingFooter``.
    """
    return _insert_one(session, _bulk_row(renderer, signer, **fields))


def _bulk_row(
    renderer: EmailRenderer,
    signer: Signer,
    *,
    key: str,
    kind: str,
    to: str,
    template: str,
    context: dict[str, Any],
    why: str,
    mailing: str | None,
    to_name: str = "",
    headers: dict[str, str] | None = None,
    attachments: list[dict[str, Any]] | None = None,
    subscription_id: int | None = None,
    contact_id: int | None = None,
) -> dict[str, Any]:
    settings = renderer.settings
    address = normalise_address(to)
    footer = bulk_context(signer, settings, address, mailing, why)
    full_context = {**context, **footer}
    missing = [k for k in REQUIRED_FOOTER_KEYS if not full_context.get(k)]
    if missing:
        raise MissingFooter(f"bulk email {template!r} lacks footer values: {', '.join(missing)}")
    rendered = renderer.render(template, full_context)
    for part, body in (("HTML", rendered.html), ("text", rendered.text)):
        if footer["unsubscribe_url"] not in body or footer["preferences_url"] not in body:
            raise MissingFooter(
                f"bulk email {template!r}: the {part} part has no unsubscribe/preferences footer "
                "(extend email/_bulk.html and include email/_bulk_footer.txt)"
            )
    all_headers = {**(headers or {}), **list_unsubscribe_headers(signer, settings, address, mailing)}
    if mailing and "List-Id" not in all_headers:
        host = urlsplit(settings.base_url).hostname or "localhost"
        all_headers["List-Id"] = f"<{mailing.replace('_', '-')}.{host}>"
    return _row(
        renderer,
        key=key,
        kind=kind,
        to=address,
        template=template,
        context=full_context,
        to_name=to_name,
        bulk=True,
        headers=all_headers,
        attachments=attachments,
        subscription_id=subscription_id,
        contact_id=contact_id,
        mailing=mailing,
        rendered=rendered,
    )


@dataclasses.dataclass(frozen=True, slots=True)
class BulkEmail:
    """One recipient's email in ``enqueue_bulk_many`` (the arguments ``enqueue_bulk`` takes per recipient)."""

    key: str
    to: str
    context: dict[str, Any]
    to_name: str = ""
    attachments: list[dict[str, Any]] | None = None
    contact_id: int | None = None
    subscription_id: int | None = None


def enqueue_bulk_many(
    session: Session,
    renderer: EmailRenderer,
    signer: Signer,
    emails: Sequence[BulkEmail],
    *,
    kind: str,
    template: str,
    why: str,
    mailing: str | None,
    batch: int = 500,
) -> dict[str, int]:
    """``enqueue_bulk`` for many recipients of one kind: the same rows, inserted ``batch`` at a time (one
    ``INSERT ... ON CONFLICT DO NOTHING`` each). Returns the new row id per idempotency key; keys already queued
    are absent. Raises as ``enqueue_bulk`` does, before inserting anything of the failing batch."""
    inserted: dict[str, int] = {}
    statement = _insert_ignore(session).returning(m.OutboxMessage.id, m.OutboxMessage.idempotency_key)
    for start in range(0, len(emails), batch):
        rows = [
            _bulk_row(
                renderer,
                signer,
                key=e.key,
                kind=kind,
                to=e.to,
                template=template,
                context=e.context,
                why=why,
                mailing=mailing,
                to_name=e.to_name,
                attachments=e.attachments,
                subscription_id=e.subscription_id,
                contact_id=e.contact_id,
            )
            for e in emails[start : start + batch]
        ]
        for row_id, key in session.execute(statement, rows):
            inserted[key] = row_id
    return inserted


# A message that failed or never settled may be queued again; a suppressed one never (suppression and consent
# are re-checked when the dispatcher claims it anyway).
RESENDABLE = frozenset({m.OutboxStatus.FAILED, m.OutboxStatus.AMBIGUOUS, m.OutboxStatus.CANCELLED})


def can_resend(message: m.OutboxMessage) -> bool:
    return message.status in RESENDABLE


def resend(session: Session, actor: Principal | None, message: m.OutboxMessage) -> bool:
    """Queue ``message`` again now, with its attempts reset (audited); False when it may not be resent."""
    if not can_resend(message):
        return False
    before = {"status": str(message.status), "attempts": message.attempts}
    message.status = m.OutboxStatus.QUEUED
    message.attempts = 0
    message.next_attempt_at = dt.datetime.now(dt.UTC)
    message.last_error = f"resent by {actor.email if actor else 'admin'} (was: {message.last_error})"[:4000]
    record(
        session,
        actor,
        "outbox.resend",
        "outbox_message",
        message.id,
        summary=f"Resent message {message.id} to {message.recipient}",
        changes={"status": [before["status"], "queued"], "attempts": [before["attempts"], 0]},
    )
    return True
