"""Accounts: magic-link sign-in, server-side sessions, admins and API keys."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any
from urllib.parse import quote

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.principal import token_hash
from crm.mailing.outbox import enqueue
from crm.mailing.render import EmailRenderer
from crm.settings import Settings
from crm.tokens import Signer, TokenError

SIGN_IN_TTL = dt.timedelta(minutes=15)


def safe_next(url: str | None) -> str:
    """Only same-site paths; anything else (``//evil``, ``https://…``) becomes the admin home."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return "/admin"
    return url[:500]


def active_admins(session: Session) -> list[Any]:
    """Every active admin (the fellow): id, email and name, oldest account first."""
    return list(
        session.execute(
            select(m.User.id, m.User.email, m.User.name)
            .where(m.User.role == m.Role.ADMIN, m.User.is_active.is_(True))
            .order_by(m.User.id)
        )
    )


def email_user(
    session: Session, renderer: EmailRenderer, user: Any, *, key: str, kind: str, context: dict[str, Any]
) -> int | None:
    """Queue the ``kind`` email (its template has the same name) to a user, greeted by name; None when ``key`` was
    already queued."""
    return enqueue(
        session,
        renderer,
        key=key,
        kind=kind,
        to=user.email,
        to_name=user.name,
        context={**context, "name": user.name},
    )


def email_admins(
    session: Session, renderer: EmailRenderer, admins: list[Any], *, key: str, kind: str, context: dict[str, Any]
) -> int:
    """Queue the ``kind`` email to each admin once (outbox key ``{key}:{user id}``); returns how many were new."""
    return sum(
        email_user(session, renderer, admin, key=f"{key}:{admin.id}", kind=kind, context=context) is not None
        for admin in admins
    )


def user_by_email(session: Session, email: str) -> m.User | None:
    return session.scalar(select(m.User).where(m.User.email == email.strip().lower()))


def ensure_user(session: Session, email: str, role: m.Role = m.Role.ADMIN, name: str = "") -> m.User:
    user = user_by_email(session, email)
    if user is None:
        user = m.User(email=email.strip().lower(), role=role, name=name)
        session.add(user)
        session.flush()
    else:
        user.role = role
        user.is_active = True
        if name:
            user.name = name
    return user


def issue_sign_in_link(
    session: Session,
    signer: Signer,
    settings: Settings,
    user: m.User,
    next_url: str = "/admin",
    now: dt.datetime | None = None,
) -> str:
    now = now or dt.datetime.now(dt.UTC)
    jti = secrets.token_urlsafe(24)
    session.add(m.SignInToken(jti=jti, user_id=user.id, expires_at=now + SIGN_IN_TTL, next_url=safe_next(next_url)))
    session.flush()
    token = signer.sign("sign-in", {"jti": jti})
    return f"{settings.base_url.rstrip('/')}/sign-in/verify?token={quote(token)}"


def request_sign_in(
    session: Session, signer: Signer, renderer: EmailRenderer, settings: Settings, email: str, next_url: str = "/admin"
) -> None:
    """Email a link when the address belongs to an active user; do nothing visible otherwise (no enumeration)."""
    user = user_by_email(session, email)
    if user is None or not user.is_active:
        return
    link = issue_sign_in_link(session, signer, settings, user, next_url)
    context = {"link": link, "minutes": int(SIGN_IN_TTL.total_seconds() // 60)}
    email_user(session, renderer, user, key=f"sign-in:{link.rsplit('=', 1)[-1][:120]}", kind="sign_in", context=context)


def peek_sign_in(session: Session, signer: Signer, token: str, now: dt.datetime | None = None) -> m.SignInToken:
    """Check a sign-in token without using it up (for the GET confirmation page)."""
    now = now or dt.datetime.now(dt.UTC)
    payload = signer.verify("sign-in", token)
    jti = payload.get("jti") if isinstance(payload, dict) else None
    row = session.scalar(select(m.SignInToken).where(m.SignInToken.jti == str(jti)))
    if row is None:
        raise TokenError("This sign-in link is not valid.")
    if row.used_at is not None:
        raise TokenError("This sign-in link has already been used. Each link works once.", expired=True)
    if row.expires_at <= now:
        raise TokenError("This sign-in link has expired.", expired=True)
    return row


def use_sign_in(session: Session, signer: Signer, token: str, now: dt.datetime | None = None) -> tuple[m.User, str]:
    now = now or dt.datetime.now(dt.UTC)
    row = peek_sign_in(session, signer, token, now)
    row.used_at = now
    user = session.get(m.User, row.user_id)
    if user is None or not user.is_active:
        raise TokenError("This account is not active.")
    user.last_sign_in_at = now
    session.flush()
    return user, row.next_url


def create_session(
    session: Session,
    user: m.User,
    settings: Settings,
    ip: str = "",
    user_agent: str = "",
    now: dt.datetime | None = None,
) -> str:
    now = now or dt.datetime.now(dt.UTC)
    cookie = secrets.token_urlsafe(32)
    session.add(
        m.UserSession(
            token_hash=token_hash(cookie),
            user_id=user.id,
            expires_at=now + dt.timedelta(days=settings.session_days),
            ip=ip[:64],
            user_agent=user_agent[:400],
        )
    )
    # Housekeeping: expired sessions of this user go when they sign in again.
    session.execute(delete(m.UserSession).where(m.UserSession.user_id == user.id, m.UserSession.expires_at < now))
    return cookie


def end_session(session: Session, cookie: str) -> None:
    if cookie:
        session.execute(delete(m.UserSession).where(m.UserSession.token_hash == token_hash(cookie)))


def create_api_key(
    session: Session, name: str, role: m.Role = m.Role.ADMIN, organisation_id: int | None = None
) -> tuple[m.ApiKey, str]:
    """Returns the row and the plaintext key, which is shown once and stored only as a SHA-256 hash."""
    plaintext = "crm_" + secrets.token_urlsafe(32)
    key = m.ApiKey(
        name=name, prefix=plaintext[:10], key_hash=token_hash(plaintext), role=role, organisation_id=organisation_id
    )
    session.add(key)
    session.flush()
    return key, plaintext
