"""The lived experience network: joining with explicit consent, confirming the address, changing what one shared,
and leaving (which erases the member).

Everything a member tells us is special-category data (it reveals lived experience of mental distress), so:

- the consent wording the person agreed to is stored on their row with the moment they agreed (``consent_wording``,
  ``consented_at``); a new wording gets a new version in ``CONSENT_TEXTS`` and old ones stay, like the mailing
  consent statements;
- we keep only what matching needs: name, email, topics, kinds of involvement, regions, online or not, access needs,
  how they prefer to be paid, and (optional) a few lines on experience and skills;
- it is never public and never in the public API; only the fellow sees it (``crm.involvement.admin_network``).

Alerts travel through the subscription system: confirming membership adds ``Mailing.INVOLVEMENT`` to the person's
subscription (created when there is none) and appends the same consent log entries every subscription keeps, so the
preference centre, one-click unsubscribe of the "involvement" stream and the dispatcher's consent re-check all apply.
Joining never changes a confirmed membership from an unauthenticated form: the member is emailed their own link.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.mailing import subscriptions as subs
from crm.mailing.consent import How, log_consent
from crm.mailing.outbox import enqueue
from crm.mailing.render import EmailRenderer
from crm.mailing.suppression import active_suppression, is_hard_suppressed
from crm.tokens import Signer, TokenError
from crm.validation import Form

MAILING = m.Mailing.INVOLVEMENT.value
# The wording a person agrees to when joining; stored on their row (and its version in the consent log).
CONSENT_VERSION = "network-2026-12-v1"
CONSENT_TEXTS: dict[str, str] = {
    "network-2026-12-v1": (
        "I agree that Roundtable keeps what I have shared on this form, including my lived experience and any access "
        "needs, to match me with involvement opportunities, email me alerts about ones that fit, and let the "
        "fellow invite me to others. Only the Roundtable fellow can see it. It is never published, and it is only "
        "passed to a research team if I say I am interested in their opportunity. I can change it or leave the "
        "network at any time, and leaving deletes it."
    ),
}
CONSENT_WORDING = CONSENT_TEXTS[CONSENT_VERSION]
PAYMENT_OPTIONS: list[tuple[str, str]] = [(p.value, p.label) for p in m.PaymentPreference]
KIND_VALUES = frozenset(k.value for k in m.InvolvementKind)
PAYMENT_VALUES = frozenset(p.value for p in m.PaymentPreference)
EXPERIENCE_MAX = 2000
ACCESS_MAX = 2000
CONFIRM_DAYS = 7
# What the consent log's entries for the network carry besides the version: the wording itself and where it came from.
_DETAIL = {"consent_wording": CONSENT_WORDING, "via": "lived experience network"}


@dataclasses.dataclass(slots=True)
class MemberInput:
    """What the join and change forms hold, checked."""

    name: str
    email: str
    topic_ids: list[int]
    region_ids: list[int]
    kinds: list[str]
    payment_preferences: list[str]
    online_ok: bool
    access_needs: str
    experience: str


class JoinResult(enum.StrEnum):
    CONFIRMATION_SENT = "confirmation_sent"
    ALREADY_MEMBER = "already_member"  # their own link went out instead: nothing changed
    REFUSED = "refused"  # the address bounced or complained: we cannot email it


def _ids(form: Form, name: str, known: set[int]) -> list[int]:
    out: list[int] = []
    for raw in form.getlist(name):
        if not raw.isdigit() or int(raw) not in known:
            form.add_error(name, "Choose from the options listed.")
            continue
        out.append(int(raw))
    return sorted(set(out))


def _values(form: Form, name: str, allowed: frozenset[str], order: Iterable[str]) -> list[str]:
    chosen = set(form.getlist(name))
    if chosen - allowed:
        form.add_error(name, "Choose from the options listed.")
    return [v for v in order if v in chosen]


def validate(session: Session, form: Form, *, with_email: bool = True) -> MemberInput:
    """Read the join (or change) form into ``MemberInput``, adding one plain message per bad field to ``form``.

    Name and email are required (the email is fixed once joined: ``with_email=False`` on the change form); every
    choice is optional (none = any); topics and regions must exist; the free text is bounded."""
    name = form.line("name", required=True, max_length=200, label="Your name")
    email = form.email("email") if with_email else ""
    topic_ids = _ids(form, "topics", set(session.scalars(select(m.Topic.id))))
    region_ids = _ids(form, "regions", set(session.scalars(select(m.Region.id))))
    kinds = _values(form, "kinds", KIND_VALUES, (k.value for k in m.InvolvementKind))
    payments = _values(form, "payment", PAYMENT_VALUES, (p.value for p in m.PaymentPreference))
    online = form.choice("online", {"yes", "no"}, label="answer about online meetings") or "yes"
    access = form.str("access_needs", max_length=ACCESS_MAX, label="Access needs")
    experience = form.str("experience", max_length=EXPERIENCE_MAX, label="Experience and skills")
    return MemberInput(
        name=name,
        email=email,
        topic_ids=topic_ids,
        region_ids=region_ids,
        kinds=kinds,
        payment_preferences=payments,
        online_ok=online == "yes",
        access_needs=access,
        experience=experience,
    )


def form_values(session: Session, member: m.NetworkMember) -> dict[str, Any]:
    """A member's row as the change form shows it."""
    topics, regions = links_of(session, [member.id])
    return {
        "name": member.name,
        "email": member.email,
        "topics": [str(i) for i in sorted(topics.get(member.id, ()))],
        "regions": [str(i) for i in sorted(regions.get(member.id, ()))],
        "kinds": list(member.kinds or []),
        "payment": list(member.payment_preferences or []),
        "online": "yes" if member.online_ok else "no",
        "access_needs": member.access_needs,
        "experience": member.experience,
    }


def links_of(session: Session, member_ids: Iterable[int]) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
    """Members' topic ids and region ids (two statements whatever the number of members)."""
    ids = sorted(set(member_ids))
    topics: dict[int, set[int]] = {}
    regions: dict[int, set[int]] = {}
    if not ids:
        return topics, regions
    mt, mr = m.network_member_topics.c, m.network_member_regions.c
    for member_id, topic_id in session.execute(select(mt.member_id, mt.topic_id).where(mt.member_id.in_(ids))):
        topics.setdefault(member_id, set()).add(topic_id)
    for member_id, region_id in session.execute(select(mr.member_id, mr.region_id).where(mr.member_id.in_(ids))):
        regions.setdefault(member_id, set()).add(region_id)
    return topics, regions


def _apply(session: Session, member: m.NetworkMember, data: MemberInput) -> None:
    member.name = data.name
    member.kinds = list(data.kinds)
    member.payment_preferences = list(data.payment_preferences)
    member.online_ok = data.online_ok
    member.access_needs = data.access_needs
    member.experience = data.experience
    session.flush()
    mt, mr = m.network_member_topics, m.network_member_regions
    session.execute(delete(mt).where(mt.c.member_id == member.id))
    session.execute(delete(mr).where(mr.c.member_id == member.id))
    if data.topic_ids:
        session.execute(insert(mt), [{"member_id": member.id, "topic_id": i} for i in data.topic_ids])
    if data.region_ids:
        session.execute(insert(mr), [{"member_id": member.id, "region_id": i} for i in data.region_ids])


def _snapshot(session: Session, member: m.NetworkMember) -> dict[str, Any]:
    return form_values(session, member)


def by_email(session: Session, email: str) -> m.NetworkMember | None:
    return session.scalar(select(m.NetworkMember).where(m.NetworkMember.email == email.strip().lower()))


# --- links ---------------------------------------------------------------------------------------------------------


def _base(base_url: str) -> str:
    return base_url.rstrip("/")


def confirm_url(signer: Signer, base_url: str, member: m.NetworkMember) -> str:
    token = signer.sign("involvement-network-confirm", {"m": member.id, "e": member.email, "n": member.confirm_nonce})
    return f"{_base(base_url)}/involvement/network/confirm/{token}"


def member_token(signer: Signer, member: m.NetworkMember) -> str:
    """The member's own link (change what they shared, leave): never expires, stops working when they leave."""
    return signer.sign("involvement-network", {"m": member.id, "e": member.email})


def manage_url(signer: Signer, base_url: str, member: m.NetworkMember) -> str:
    return f"{_base(base_url)}/involvement/network/you/{member_token(signer, member)}"


def leave_url(signer: Signer, base_url: str, member: m.NetworkMember) -> str:
    return f"{_base(base_url)}/involvement/network/leave/{member_token(signer, member)}"


GONE = "This link no longer works: this membership has ended. You can join the network again whenever you like."


def member_from_token(session: Session, signer: Signer, token: str) -> m.NetworkMember:
    """The member a personal link names; ``TokenError`` when tampered, or when they have left (the row is gone)."""
    data = signer.verify("involvement-network", token)
    if not isinstance(data, dict):
        raise TokenError("This link is not valid. It may have been changed or cut short.")
    member = session.get(m.NetworkMember, data.get("m"))
    if member is None or member.email != data.get("e"):
        raise TokenError(GONE)
    return member


def peek_confirmation(session: Session, signer: Signer, token: str) -> m.NetworkMember:
    """The member a confirmation link names; raises ``TokenError`` when it cannot be used. Changes nothing."""
    data = signer.verify("involvement-network-confirm", token)
    if not isinstance(data, dict):
        raise TokenError("This link is not valid. It may have been changed or cut short.")
    member = session.get(m.NetworkMember, data.get("m"))
    if member is None or member.email != data.get("e"):
        raise TokenError(GONE)
    if member.status == m.NetworkMemberStatus.PENDING and member.confirm_nonce != data.get("n"):
        raise TokenError("We have sent you a newer email since this one. Please use the link in that email.")
    return member


# --- joining, confirming, changing, leaving ----------------------------------------------------------------------


def join(
    session: Session,
    renderer: EmailRenderer,
    signer: Signer,
    data: MemberInput,
    how: How,
    *,
    now: dt.datetime | None = None,
) -> JoinResult:
    """The public form: a pending member (new, or an earlier pending one refreshed) and the confirmation email.

    An active member's choices are never changed from this unauthenticated form: they get an email with their own
    link instead, and the page says the same thing either way (no one learns who is a member)."""
    now = now or dt.datetime.now(dt.UTC)
    email = data.email.strip().lower()
    if is_hard_suppressed(session, email):
        return JoinResult.REFUSED
    member = by_email(session, email)
    base = renderer.settings.base_url
    if member is not None and member.status == m.NetworkMemberStatus.ACTIVE:
        enqueue(
            session,
            renderer,
            key=f"involvement:network-you:{member.id}:{now:%Y-%m-%d}",
            kind="involvement_network_you",
            template="involvement/network_you",
            to=email,
            to_name=member.name,
            context={"name": member.name, "manage_url": manage_url(signer, base, member)},
        )
        return JoinResult.ALREADY_MEMBER
    if member is None:
        member = m.NetworkMember(email=email, name=data.name, status=m.NetworkMemberStatus.PENDING)
        session.add(member)
    member.consent_wording = CONSENT_WORDING
    member.consented_at = now
    member.confirm_nonce = (member.confirm_nonce or 0) + 1
    _apply(session, member, data)
    # The consent itself, with how it was given (the form's address, IP and browser), as the subscribe form logs it.
    log_consent(
        session,
        None,
        email,
        m.ConsentAction.SUBSCRIBE,
        how,
        mailings=[MAILING],
        version=CONSENT_VERSION,
        detail=_DETAIL,
    )
    enqueue(
        session,
        renderer,
        key=f"involvement:network-confirm:{member.id}:{member.confirm_nonce}",
        kind="involvement_network_confirm",
        template="involvement/network_confirm",
        to=email,
        to_name=data.name,
        context={"name": data.name, "confirm_url": confirm_url(signer, base, member), "days": CONFIRM_DAYS},
    )
    return JoinResult.CONFIRMATION_SENT


def confirm(
    session: Session, signer: Signer, token: str, how: How, *, now: dt.datetime | None = None
) -> m.NetworkMember:
    """Activate a pending member and start their alerts (idempotent for an active member)."""
    now = now or dt.datetime.now(dt.UTC)
    member = peek_confirmation(session, signer, token)
    if member.status == m.NetworkMemberStatus.ACTIVE:
        return member
    member.status = m.NetworkMemberStatus.ACTIVE
    member.confirmed_at = now
    member.subscription_id = start_alerts(session, member.email, member.name, how, now=now).id
    return member


def start_alerts(
    session: Session,
    email: str,
    name: str,
    how: How,
    *,
    now: dt.datetime,
    action: m.ConsentAction = m.ConsentAction.CONFIRM,
) -> m.Subscription:
    """Add the involvement mailing to the address's subscription, and log the confirmation as subscribing does (the
    consent itself was logged when they joined: ``join``).

    - no subscription: a new one, active (the network's own confirmation link was the double opt-in), with only this
      mailing;
    - active or paused: the mailing is added (a paused one stays paused: they chose to pause);
    - pending (a subscribe form not yet confirmed): it becomes active with this mailing only; the other mailings
      they asked for were never confirmed, so they are not started (the preference centre offers them);
    - unsubscribed: active again with this mailing, and the "unsubscribed" suppression is lifted, as confirming a
      new subscription does. (Bounced and complained addresses cannot join: ``join`` refuses them.)
    """
    sub = subs.by_email(session, email, load=True)
    if sub is None:
        sub = m.Subscription(email=email, name=name, status=m.SubscriptionStatus.PENDING, topics=[], regions=[])
        sub.contact_id = session.scalar(select(m.Contact.id).where(m.Contact.email == email))
        session.add(sub)
    if sub.status in {m.SubscriptionStatus.ACTIVE, m.SubscriptionStatus.PAUSED}:
        if MAILING in (sub.mailings or []):
            return sub
        sub.mailings = [x.value for x in m.Mailing if x.value in {*sub.mailings, MAILING}]
    else:
        sub.mailings = [MAILING]
        sub.name = sub.name or name
        sub.status = m.SubscriptionStatus.ACTIVE
        sub.consent_version = CONSENT_VERSION
        sub.confirmed_at = now
        sub.unsubscribed_at = None
        suppression = active_suppression(session, email)
        if suppression is not None and suppression.reason == "unsubscribed":
            suppression.lifted_at = now
            suppression.note = (suppression.note + " | lifted: joined the lived experience network and confirmed")[:500]
    sub.updated_at = now
    session.flush()
    log_consent(session, sub, email, action, how, mailings=[MAILING], version=CONSENT_VERSION, detail=_DETAIL)
    return sub


CANNOT_EMAIL = (
    "Emails to this address have bounced or been reported as spam, so we cannot send them. Please contact us if "
    "this is a mistake."
)


PAUSED = "Your emails are paused. Restart them in your email preferences, and the ones about opportunities come too."


def restart_alerts(session: Session, member: m.NetworkMember, how: How, *, now: dt.datetime | None = None) -> bool:
    """A member who stopped the emails (one click, the preference centre, or "unsubscribe from everything") starts
    them again from their own page: a fresh consent, logged as subscribing. False when they already get them or have
    not confirmed; ``ValueError`` with what to do instead when the address cannot be emailed (bounced or complained)
    or their emails are paused."""
    if member.status != m.NetworkMemberStatus.ACTIVE or alerts_on(session, member.email):
        return False
    sub = subs.by_email(session, member.email)
    ended = {m.SubscriptionStatus.BOUNCED, m.SubscriptionStatus.COMPLAINED}
    if is_hard_suppressed(session, member.email) or (sub is not None and sub.status in ended):
        raise ValueError(CANNOT_EMAIL)
    if sub is not None and sub.status == m.SubscriptionStatus.PAUSED:
        # Pausing stops every email they get; restarting is theirs to choose in the preference centre.
        raise ValueError(PAUSED)
    now = now or dt.datetime.now(dt.UTC)
    sub = start_alerts(session, member.email, member.name, how, now=now, action=m.ConsentAction.SUBSCRIBE)
    member.subscription_id = sub.id
    return True


def update(session: Session, member: m.NetworkMember, data: MemberInput) -> bool:
    """Change what a member shared (their email stays: a new address would need confirming). Whether it changed."""
    before = _snapshot(session, member)
    _apply(session, member, data)
    after = _snapshot(session, member)
    if before == after:
        return False
    member.updated_at = dt.datetime.now(dt.UTC)
    return True


def alerts_on(session: Session, email: str) -> bool:
    """Whether the address's subscription currently receives the involvement mailing."""
    sub = subs.by_email(session, email)
    return sub is not None and sub.wants(MAILING)


def stop_alerts(session: Session, email: str, how: How, *, now: dt.datetime | None = None) -> bool:
    """Withdraw the involvement mailing from the address's subscription, logged as an unsubscribe; with nothing left
    the subscription ends. Unlike "unsubscribe from everything" the address is not put on the suppression list (other
    emails it asked for, such as an event it booked, still reach it). Whether anything changed."""
    sub = subs.by_email(session, email, load=True)
    if sub is None or MAILING not in (sub.mailings or []):
        return False
    now = now or dt.datetime.now(dt.UTC)
    sub.mailings = [x for x in sub.mailings if x != MAILING]
    sub.updated_at = now
    if not sub.mailings and sub.status in {m.SubscriptionStatus.ACTIVE, m.SubscriptionStatus.PAUSED}:
        sub.status = m.SubscriptionStatus.UNSUBSCRIBED
        sub.unsubscribed_at = now
    log_consent(session, sub, email, m.ConsentAction.UNSUBSCRIBE, how, mailings=[MAILING])
    return True


def leave(session: Session, member: m.NetworkMember, how: How) -> None:
    """Leave the network: the involvement mailing is withdrawn (logged like any unsubscribe) and the member row, its
    topics and regions are erased. Expressions of interest they sent to opportunities stay with those opportunities
    (they were shared with the poster) but no longer point at a member."""
    stop_alerts(session, member.email, how)
    # The foreign keys do the rest: topic and region links go with the row, interests and records keep no pointer.
    session.execute(delete(m.NetworkMember).where(m.NetworkMember.id == member.id))
    session.expunge(member)


def forget_unconfirmed(session: Session, now: dt.datetime) -> int:
    """Delete what people sent who never confirmed, a day after their link stopped working (the confirmation email
    promises it): one DELETE; topic and region links go with the rows. How many were deleted."""
    cutoff = now - dt.timedelta(days=CONFIRM_DAYS + 1)
    NM = m.NetworkMember
    result = session.execute(delete(NM).where(NM.status == m.NetworkMemberStatus.PENDING, NM.consented_at < cutoff))
    return int(result.rowcount or 0)
