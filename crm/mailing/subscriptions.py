"""Subscriptions with double opt-in, the preference centre, unsubscribe, and the suppressions they cause.

The consent log is written through ``crm.mailing.consent``; the suppression list is read and written through
``crm.mailing.suppression``.

Rules (docs/mailing.md):

- Only ``active`` (confirmed) subscriptions receive mail; the dispatcher re-checks at claim time.
- Every subscribe, confirm, preference change, pause/resume and unsubscribe appends a ``ConsentEntry``.
- Unsubscribing from everything keeps the row (status ``unsubscribed``) and adds an ``unsubscribed``
  suppression, so imports and other bulk mail cannot reach the address; a new subscription through the form
  (a fresh positive consent, confirmed by the person) lifts it.
- Bounces and spam complaints suppress the address for everything; the form then refuses it politely.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Iterable
from typing import Any

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session, selectinload

from crm import models as m
from crm.accounts.principal import Principal
from crm.audit import diff, record
from crm.mailing.compliance import CONTACT_STREAM, DIGEST_MAILINGS, DIGEST_STREAM, preferences_url
from crm.mailing.consent import How, log_consent
from crm.mailing.outbox import enqueue
from crm.mailing.render import EmailRenderer
from crm.mailing.suppression import active_suppression, is_hard_suppressed, suppress
from crm.settings import Settings
from crm.tokens import Signer, TokenError

REPEAT_WINDOW = dt.timedelta(minutes=10)
# Throwaway-inbox services: a subscription to one would bounce or go unread within hours.
DISPOSABLE_DOMAINS = frozenset(
    {
        "mailinator.com",
        "guerrillamail.com",
        "guerrillamail.net",
        "sharklasers.com",
        "10minutemail.com",
        "temp-mail.org",
        "tempmail.com",
        "yopmail.com",
        "trashmail.com",
        "throwawaymail.com",
        "getnada.com",
        "dispostable.com",
        "maildrop.cc",
        "fakeinbox.com",
        "mailnesia.com",
        "mintemail.com",
        "spamgourmet.com",
    }
)


def looks_disposable(email: str) -> bool:
    domain = email.rsplit("@", 1)[-1].strip().lower()
    return domain in DISPOSABLE_DOMAINS or any(domain.endswith("." + d) for d in DISPOSABLE_DOMAINS)


@dataclasses.dataclass(slots=True)
class Choices:
    mailings: list[str]
    topic_ids: list[int]
    region_ids: list[int]
    frequency: str = m.Frequency.WEEKLY.value
    only_vcse_partner_calls: bool = False
    funder_ids: list[int] = dataclasses.field(default_factory=list)
    # Per-mailing extra filters, keyed by mailing (e.g. {"internship_alerts": {...}}); replaces what is stored
    # for those mailings. Filters of mailings no longer chosen are dropped.
    mailing_filters: dict[str, Any] = dataclasses.field(default_factory=dict)


class SubscribeResult(enum.StrEnum):
    CONFIRMATION_SENT = "confirmation_sent"
    ALREADY_SUBSCRIBED = "already_subscribed"  # a "manage your subscription" email went out instead
    REFUSED = "refused"  # suppressed for bounce/complaint: say nothing more


def mailing_filter(mailing: str) -> Any:
    """SQL condition "this subscription includes ``mailing``" on both databases (JSON list of short names)."""
    return cast(m.Subscription.mailings, String).like(f'%"{mailing}"%')


def by_email(session: Session, email: str, *, load: bool = False) -> m.Subscription | None:
    query = select(m.Subscription).where(m.Subscription.email == email.strip().lower())
    if load:
        query = query.options(selectinload(m.Subscription.topics), selectinload(m.Subscription.regions))
    return session.scalar(query)


def _apply_choices(session: Session, sub: m.Subscription, choices: Choices) -> None:
    sub.mailings = [x.value for x in m.Mailing if x.value in set(choices.mailings)]
    sub.frequency = m.Frequency(choices.frequency)
    sub.only_vcse_partner_calls = choices.only_vcse_partner_calls
    sub.funder_ids = (
        sorted(
            session.scalars(
                select(m.Organisation.id).where(
                    m.Organisation.id.in_(choices.funder_ids), m.Organisation.kind == m.OrgKind.FUNDER
                )
            )
        )
        if choices.funder_ids
        else []
    )
    filters = {**(sub.filters or {}), **choices.mailing_filters}
    mailing_keys = {x.value for x in m.Mailing}
    sub.filters = {k: v for k, v in filters.items() if k not in mailing_keys or k in sub.mailings}
    sub.topics = (
        list(session.scalars(select(m.Topic).where(m.Topic.id.in_(choices.topic_ids)))) if choices.topic_ids else []
    )
    sub.regions = (
        list(session.scalars(select(m.Region).where(m.Region.id.in_(choices.region_ids)))) if choices.region_ids else []
    )


def _snapshot(sub: m.Subscription) -> dict[str, Any]:
    return {
        "mailings": sorted(sub.mailings or []),
        "topics": sorted(t.slug for t in sub.topics),
        "regions": sorted(r.slug for r in sub.regions),
        "frequency": str(sub.frequency),
        "only_vcse_partner_calls": sub.only_vcse_partner_calls,
        "funder_ids": sorted(sub.funder_ids or []),
        "filters": dict(sub.filters or {}),
        "status": str(sub.status),
    }


def confirm_url(signer: Signer, settings: Settings, sub: m.Subscription) -> str:
    token = signer.sign("confirm-subscription", {"s": sub.id, "e": sub.email, "n": sub.confirm_nonce})
    return f"{settings.base_url.rstrip('/')}/subscribe/confirm/{token}"


def subscribe(
    session: Session,
    renderer: EmailRenderer,
    signer: Signer,
    *,
    email: str,
    name: str,
    organisation_name: str,
    choices: Choices,
    consent_version: str,
    how: How,
    now: dt.datetime | None = None,
) -> SubscribeResult:
    """The public form: create or refresh a pending subscription and queue the confirmation email."""
    now = now or dt.datetime.now(dt.UTC)
    settings = renderer.settings
    email = email.strip().lower()
    if is_hard_suppressed(session, email):
        return SubscribeResult.REFUSED
    sub = by_email(session, email, load=True)
    if sub is not None and sub.status in {m.SubscriptionStatus.BOUNCED, m.SubscriptionStatus.COMPLAINED}:
        return SubscribeResult.REFUSED
    if sub is not None and sub.status in {m.SubscriptionStatus.ACTIVE, m.SubscriptionStatus.PAUSED}:
        # Never change a confirmed subscription from an unauthenticated form: email its owner the link instead.
        enqueue(
            session,
            renderer,
            key=f"subscription-manage:{sub.id}:{now:%Y-%m-%d}",
            kind="subscription_manage",
            to=email,
            to_name=sub.name,
            context={"name": sub.name, "preferences_url": preferences_url(signer, settings, email)},
            subscription_id=sub.id,
        )
        return SubscribeResult.ALREADY_SUBSCRIBED
    if sub is None:
        sub = m.Subscription(email=email, status=m.SubscriptionStatus.PENDING, topics=[], regions=[])
        session.add(sub)
        repeat = False
    else:
        # pending (form posted again) or unsubscribed (coming back): a new pending confirmation.
        before = _snapshot(sub)
        repeat = (
            sub.status == m.SubscriptionStatus.PENDING
            and sub.updated_at is not None
            and now - sub.updated_at < REPEAT_WINDOW
        )
        if sub.status == m.SubscriptionStatus.UNSUBSCRIBED:
            repeat = False
        sub.status = m.SubscriptionStatus.PENDING
    sub.name = name
    sub.organisation_name = organisation_name
    sub.consent_version = consent_version
    if sub.contact_id is None:
        sub.contact_id = session.scalar(select(m.Contact.id).where(m.Contact.email == email))
    _apply_choices(session, sub, choices)
    if repeat and _snapshot(sub) == before:
        # The same form posted twice in a row: nothing new to record, and no second email.
        return SubscribeResult.CONFIRMATION_SENT
    if not repeat:
        sub.confirm_nonce = (sub.confirm_nonce or 0) + 1
    sub.updated_at = now
    session.flush()
    log_consent(session, sub, email, m.ConsentAction.SUBSCRIBE, how, version=consent_version)
    enqueue(
        session,
        renderer,
        key=f"subscription-confirm:{sub.id}:{sub.confirm_nonce}",
        kind="subscription_confirm",
        to=email,
        to_name=name,
        context={
            "name": name,
            "confirm_url": confirm_url(signer, settings, sub),
            "mailings": [m.Mailing(x).label for x in sub.mailings],
            "hours": 48,
        },
        subscription_id=sub.id,
    )
    return SubscribeResult.CONFIRMATION_SENT


def peek_confirmation(session: Session, signer: Signer, token: str) -> m.Subscription:
    """The subscription a confirmation link names; raises ``TokenError`` when unusable. Changes nothing."""
    data = signer.verify("confirm-subscription", token)
    if not isinstance(data, dict):
        raise TokenError("This link is not valid. It may have been changed or cut short.")
    sub = session.get(m.Subscription, data.get("s"))
    if sub is None or sub.email != data.get("e"):
        raise TokenError("This link is not valid any more.")
    if sub.status == m.SubscriptionStatus.PENDING and sub.confirm_nonce != data.get("n"):
        raise TokenError("A newer confirmation email has been sent. Please use the link in that one.")
    return sub


def confirm(session: Session, signer: Signer, token: str, how: How, now: dt.datetime | None = None) -> m.Subscription:
    """Activate a pending subscription (idempotent for an already active one)."""
    now = now or dt.datetime.now(dt.UTC)
    sub = peek_confirmation(session, signer, token)
    if sub.status == m.SubscriptionStatus.ACTIVE:
        return sub
    if sub.status != m.SubscriptionStatus.PENDING:
        raise TokenError("This subscription has been closed, so this link no longer works. You can subscribe again.")
    sub = by_email(session, sub.email, load=True)
    assert sub is not None
    sub.status = m.SubscriptionStatus.ACTIVE
    sub.confirmed_at = now
    sub.unsubscribed_at = None
    sub.updated_at = now
    suppression = active_suppression(session, sub.email)
    if suppression is not None and suppression.reason == "unsubscribed":
        suppression.lifted_at = now
        suppression.note = (suppression.note + " | lifted: re-subscribed and confirmed")[:500]
    log_consent(session, sub, sub.email, m.ConsentAction.CONFIRM, how, version=sub.consent_version)
    return sub


def email_from_preferences_token(signer: Signer, token: str) -> str:
    data = signer.verify("preferences", token)
    if not isinstance(data, dict) or not isinstance(data.get("e"), str):
        raise TokenError("This link is not valid. It may have been changed or cut short.")
    return data["e"]


def update_preferences(
    session: Session, sub: m.Subscription, choices: Choices, how: How, now: dt.datetime | None = None
) -> bool:
    """Change what an active or paused subscription receives; returns whether anything changed."""
    before = _snapshot(sub)
    _apply_choices(session, sub, choices)
    after = _snapshot(sub)
    if before == after:
        return False
    sub.updated_at = now or dt.datetime.now(dt.UTC)
    log_consent(session, sub, sub.email, m.ConsentAction.PREFERENCES, how, detail={"changes": diff(before, after)})
    if not sub.mailings and sub.status in {m.SubscriptionStatus.ACTIVE, m.SubscriptionStatus.PAUSED}:
        unsubscribe(session, sub.email, None, how, now=now)
    return True


def set_paused(session: Session, sub: m.Subscription, paused: bool, how: How, now: dt.datetime | None = None) -> bool:
    target = m.SubscriptionStatus.PAUSED if paused else m.SubscriptionStatus.ACTIVE
    allowed = {m.SubscriptionStatus.ACTIVE, m.SubscriptionStatus.PAUSED}
    if sub.status not in allowed or sub.status == target:
        return False
    sub.status = target
    sub.updated_at = now or dt.datetime.now(dt.UTC)
    log_consent(session, sub, sub.email, m.ConsentAction.PAUSE if paused else m.ConsentAction.RESUME, how)
    return True


class UnsubscribeResult(enum.StrEnum):
    DONE = "done"
    ALREADY = "already"
    UNKNOWN = "unknown"


def unsubscribe(
    session: Session, email: str, mailing: str | None, how: How, now: dt.datetime | None = None
) -> UnsubscribeResult:
    """Withdraw from one stream: ``"digest"`` (every mailing a digest is built from), one mailing, or everything
    (None). Idempotent; unknown addresses change nothing."""
    now = now or dt.datetime.now(dt.UTC)
    email = email.strip().lower()
    sub = by_email(session, email, load=True)
    if sub is None and mailing == CONTACT_STREAM:
        # The fellow's emails to a directory contact (legitimate interest): the consent log records the withdrawal
        # (the audience and the dispatcher read it through ``withdrawn_among``); no suppression, which would also
        # stop event invitations ("unsubscribe from everything" stays on the confirmation page for that).
        if withdrew(session, email, mailing):
            return UnsubscribeResult.ALREADY
        log_consent(session, None, email, m.ConsentAction.UNSUBSCRIBE, how, mailings=[mailing])
        return UnsubscribeResult.DONE
    if sub is None:
        contact = session.scalar(select(m.Contact.id).where(m.Contact.email == email))
        if contact is None:
            return UnsubscribeResult.UNKNOWN
        # A contact who is not a subscriber (e.g. event invitations): suppress bulk mail to them.
        if not suppress(session, email, "unsubscribed", how.mechanism, "unsubscribe link", now):
            return UnsubscribeResult.ALREADY
        log_consent(session, None, email, m.ConsentAction.UNSUBSCRIBE_ALL, how, mailings=[mailing] if mailing else [])
        return UnsubscribeResult.DONE
    closed = {m.SubscriptionStatus.UNSUBSCRIBED, m.SubscriptionStatus.BOUNCED, m.SubscriptionStatus.COMPLAINED}
    if mailing == DIGEST_STREAM:
        return _stop_digest(session, sub, how, now)
    if mailing is None and sub.status == m.SubscriptionStatus.UNSUBSCRIBED:
        # Left the digest earlier (no suppression then); "everything" now also stops any other bulk email.
        if not suppress(session, email, "unsubscribed", how.mechanism, "unsubscribed from everything", now):
            return UnsubscribeResult.ALREADY
        log_consent(session, sub, email, m.ConsentAction.UNSUBSCRIBE_ALL, how, mailings=[])
        return UnsubscribeResult.DONE
    if mailing is not None and sub.status not in closed and mailing in (sub.mailings or []):
        remaining = [x for x in sub.mailings if x != mailing]
        if remaining:
            sub.mailings = remaining
            sub.updated_at = now
            log_consent(session, sub, email, m.ConsentAction.UNSUBSCRIBE, how, mailings=[mailing])
            return UnsubscribeResult.DONE
    if mailing is not None and mailing not in (sub.mailings or []) and sub.status not in closed:
        # Not (or no longer) a mailing of theirs, but its emails may still reach them (event emails go to invited
        # contacts): the consent entry records the withdrawal, which ``withdrew`` reads before queueing.
        if withdrew(session, email, mailing):
            return UnsubscribeResult.ALREADY
        log_consent(session, sub, email, m.ConsentAction.UNSUBSCRIBE, how, mailings=[mailing])
        return UnsubscribeResult.DONE
    if sub.status in closed:
        return UnsubscribeResult.ALREADY
    withdrawn = list(sub.mailings or [])
    sub.status = m.SubscriptionStatus.UNSUBSCRIBED
    sub.unsubscribed_at = now
    sub.updated_at = now
    suppress(session, email, "unsubscribed", how.mechanism, "unsubscribed from everything", now)
    log_consent(session, sub, email, m.ConsentAction.UNSUBSCRIBE_ALL, how, mailings=withdrawn)
    return UnsubscribeResult.DONE


_ENDED = frozenset({m.SubscriptionStatus.UNSUBSCRIBED, m.SubscriptionStatus.BOUNCED, m.SubscriptionStatus.COMPLAINED})


def withdrew(session: Session, email: str, mailing: str) -> bool:
    """Whether the address stopped ``mailing``'s emails: their subscription ended, or it lacks ``mailing`` (or
    there is none: a directory contact who left the fellow's emails, ``CONTACT_STREAM``) and the consent log shows
    they withdrew it (rather than never choosing it). Other addresses without a subscription are stopped by the
    suppression list."""
    email = email.strip().lower()
    row = session.execute(
        select(m.Subscription.status, m.Subscription.mailings).where(m.Subscription.email == email)
    ).first()
    if row is not None and row.status in _ENDED:
        return True
    if row is not None and mailing in (row.mailings or []):
        return False
    return (
        session.scalar(
            select(m.ConsentEntry.id)
            .where(
                m.ConsentEntry.email == email,
                m.ConsentEntry.action == m.ConsentAction.UNSUBSCRIBE,
                cast(m.ConsentEntry.mailings, String).like(f'%"{mailing}"%'),
            )
            .limit(1)
        )
        is not None
    )


def withdrawn_among(session: Session, emails: Iterable[str], mailing: str) -> set[str]:
    """``withdrew`` for many addresses at once (lower-cased): those of ``emails`` who stopped ``mailing``, in two
    statements per 500 addresses."""
    wanted = sorted({e.strip().lower() for e in emails})
    out: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = session.execute(
            select(m.Subscription.email, m.Subscription.status, m.Subscription.mailings).where(
                m.Subscription.email.in_(chunk)
            )
        ).all()
        out |= {r.email for r in rows if r.status in _ENDED}
        lacking = [r.email for r in rows if r.status not in _ENDED and mailing not in (r.mailings or [])]
        lacking += sorted(set(chunk) - {r.email for r in rows})  # no subscription: the consent log alone
        if lacking:
            out |= set(
                session.scalars(
                    select(m.ConsentEntry.email)
                    .where(
                        m.ConsentEntry.email.in_(lacking),
                        m.ConsentEntry.action == m.ConsentAction.UNSUBSCRIBE,
                        cast(m.ConsentEntry.mailings, String).like(f'%"{mailing}"%'),
                    )
                    .distinct()
                )
            )
    return out


def _stop_digest(session: Session, sub: m.Subscription, how: How, now: dt.datetime) -> UnsubscribeResult:
    """The digest's one-click link: withdraw every mailing a digest is built from, so no later digest is built
    (the engine takes active subscriptions with a digest mailing) and none already queued goes out (the
    dispatcher re-checks the subscription). With nothing left the subscription ends; the address is not put on
    the suppression list (that is "unsubscribe from everything", offered on the confirmation page)."""
    if sub.status in {m.SubscriptionStatus.UNSUBSCRIBED, m.SubscriptionStatus.BOUNCED, m.SubscriptionStatus.COMPLAINED}:
        return UnsubscribeResult.ALREADY
    withdrawn = [x for x in sub.mailings or [] if x in DIGEST_MAILINGS]
    if not withdrawn:
        return UnsubscribeResult.ALREADY
    sub.mailings = [x for x in sub.mailings or [] if x not in DIGEST_MAILINGS]
    sub.updated_at = now
    if not sub.mailings:
        sub.status = m.SubscriptionStatus.UNSUBSCRIBED
        sub.unsubscribed_at = now
    log_consent(
        session, sub, sub.email, m.ConsentAction.UNSUBSCRIBE, how, mailings=withdrawn, detail={"stream": DIGEST_STREAM}
    )
    return UnsubscribeResult.DONE


def provider_suppression(session: Session, email: str, reason: str, note: str, now: dt.datetime | None = None) -> None:
    """A hard bounce, spam report or provider drop: suppress the address and close its subscription."""
    now = now or dt.datetime.now(dt.UTC)
    email = email.strip().lower()
    suppress(session, email, reason, "sendgrid", note, now)
    sub = by_email(session, email, load=True)
    status = m.SubscriptionStatus.COMPLAINED if reason == "complaint" else m.SubscriptionStatus.BOUNCED
    if sub is not None and sub.status != status:
        sub.status = status
        sub.updated_at = now
        action = m.ConsentAction.COMPLAINT if reason == "complaint" else m.ConsentAction.BOUNCE
        log_consent(
            session, sub, email, action, How(mechanism="provider webhook", actor="sendgrid"), detail={"note": note}
        )


# --- admin: suppression list ---------------------------------------------------------------------------------


def admin_add_suppression(session: Session, actor: Principal, email: str, reason: str, note: str) -> bool:
    added = suppress(session, email, reason, f"admin:{actor.email}", note)
    row = session.scalar(select(m.Suppression).where(m.Suppression.address == email))
    session.flush()
    record(
        session,
        actor,
        "suppression.add",
        "suppression",
        row.id if row else None,
        summary=f"Suppressed {email}: {reason}. {note}",
        changes={"address": [None, email], "reason": [None, reason]},
    )
    sub = by_email(session, email, load=True)
    if sub is not None and added:
        log_consent(
            session,
            sub,
            email,
            m.ConsentAction.ADMIN,
            How(mechanism="admin", actor=actor.email),
            detail={"suppressed": reason, "note": note},
        )
    return added


def admin_lift_suppression(session: Session, actor: Principal, suppression_id: int, note: str) -> m.Suppression | None:
    row = session.get(m.Suppression, suppression_id)
    if row is None or row.lifted_at is not None:
        return row
    row.lifted_at = dt.datetime.now(dt.UTC)
    row.note = (f"{row.note} | lifted: {note}" if row.note else f"lifted: {note}")[:500]
    record(
        session,
        actor,
        "suppression.lift",
        "suppression",
        row.id,
        summary=f"Lifted the suppression of {row.address}: {note}",
        changes={"lifted_at": [None, row.lifted_at.isoformat()]},
    )
    return row
