"""Posting involvement opportunities without an account, and the fellow's moderation (issue 18).

The public form (/involvement/offer) sends an opportunity for the fellow's review, like /add-your-group sends a group
and /internships/offer a placement: it is ``submitted`` and ``public_posted``, invisible to the public until approved.
Its checks are ``crm.involvement.editing.validate`` (the one validation), plus who is offering it: the organisation is
found in the directory by name, or added there as a submission the fellow reviews too. The poster gets an email
("we received it"), the fellow one ("it waits for you").

On approval the opportunity is published and the poster gets a **private signed manage link**: no account, an
itsdangerous token (purpose ``involvement-manage``) carrying the opportunity's id and its ``manage_key``. With it they
see their one opportunity and ITS expressions of interest, change their statuses (emailing a decision if they
choose) and close it. A link stops working when it expires, when the fellow sends a new one (a new key) or when the
opportunity is deleted; an expired link's page offers a fresh one, sent only to the opportunity's own contact.
Rejection tells the poster kindly, with the fellow's note.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.accounts.principal import Principal
from crm.directory.organisations import find_or_submit
from crm.errors import FieldErrors, NotFound
from crm.involvement import editing
from crm.involvement.editing import OpportunityInput
from crm.mailing.outbox import enqueue
from crm.mailing.render import EmailRenderer
from crm.timefmt import format_date
from crm.tokens import INVALID, PURPOSES, TokenError

MANAGE_PURPOSE = "involvement-manage"
MANAGE_DAYS = (PURPOSES[MANAGE_PURPOSE] or 0) // 86400  # how long a manage link works, as the email says it
OFFER_LIMIT_PER_HOUR = 5  # per connection, like /add-your-group
NEW_LINK_LIMIT_PER_HOUR = 3  # per opportunity: a fresh link only ever goes to its own contact address
ENTITY = "involvement_opportunity"
Status = m.OpportunityStatus
# The poster acting through the emailed link, as the audit trail names them (no account, no personal data).
POSTER = Principal(
    id=0, email="the poster (private link)", name="The poster", role=m.Role.VIEWER, organisation_id=None, via="link"
)
# Who may offer: the kinds a public poster can say their organisation is, in their words.
ORGANISATION_KINDS: dict[str, str] = {
    m.OrgKind.ACADEMIC.value: "A university or research team",
    m.OrgKind.NHS.value: "An NHS organisation",
    m.OrgKind.VCSE.value: "A charity, community group or social enterprise",
    m.OrgKind.OTHER.value: "Something else",
}
CLOSED_MESSAGE = "This opportunity is closed, so it no longer takes interest. You can still update the people who did."


@dataclasses.dataclass(slots=True)
class Offer:
    """A checked public submission: the opportunity and who is offering it."""

    data: OpportunityInput
    organisation_name: str
    organisation_kind: m.OrgKind


def _line(raw: Any) -> str:
    return str(raw or "").strip()


def validate_offer(session: Session, raw: Mapping[str, Any], *, today: dt.date) -> Offer:
    """The public form's checks: the opportunity's own (``editing.validate``) plus the organisation, every message
    at once (``FieldErrors``). The organisation menu of the admin form is not offered here: a poster names theirs."""
    errors: dict[str, str] = {}
    name = _line(raw.get("organisation_name"))
    if not name:
        errors["organisation_name"] = "Enter the name of your organisation or team."
    elif len(name) > 300 or "\n" in name:
        errors["organisation_name"] = "Use a single line of at most 300 characters for the organisation name."
    kind = _line(raw.get("organisation_kind"))
    if kind not in ORGANISATION_KINDS:
        errors["organisation_kind"] = "Say what kind of organisation is offering it."
    fields = {k: v for k, v in raw.items() if k != "organisation_id"}
    data, problems = editing.validate(session, fields, today=today)
    errors.update(problems)
    if not _line(raw.get("contact_name")) and "contact_name" not in errors:
        errors["contact_name"] = "Enter your name, so people know who they are writing to."
    if errors:
        raise FieldErrors(errors)
    assert data is not None
    return Offer(data=data, organisation_name=name, organisation_kind=m.OrgKind(kind))


def submit_offer(
    session: Session, renderer: EmailRenderer, offer: Offer, *, base_url: str, now: dt.datetime
) -> m.InvolvementOpportunity:
    """Store the opportunity as waiting for approval; email the poster ("we received it") and the fellow."""
    offer.data.organisation_id = find_or_submit(
        session,
        offer.organisation_name,
        {
            "kind": offer.organisation_kind,
            "submitter_name": offer.data.contact_name,
            "submitter_email": offer.data.contact_email,
        },
    ).id
    opp = editing.create(session, offer.data, status=Status.SUBMITTED, public_posted=True, now=now, actor=POSTER)
    opp.manage_key = secrets.token_urlsafe(24)
    session.flush()
    base = base_url.rstrip("/")
    _email_poster(
        session,
        renderer,
        opp,
        key=f"involvement:posting-received:{opp.id}",
        template="posting_received",
        organisation_name=offer.organisation_name,
    )
    admins = session.execute(
        select(m.User.email, m.User.name).where(m.User.role == m.Role.ADMIN, m.User.is_active.is_(True)).limit(20)
    ).all()
    for email, name in admins:
        enqueue(
            session,
            renderer,
            key=f"involvement:posting-submitted:{opp.id}:{email}",
            kind="involvement_posting_submitted",
            template="involvement/posting_submitted",
            to=email,
            to_name=name,
            context={
                "opportunity_title": opp.title,
                "organisation_name": offer.organisation_name,
                "admin_url": f"{base}/admin/involvement/{opp.id}",
            },
        )
    return opp


def _email_poster(
    session: Session,
    renderer: EmailRenderer,
    opp: m.InvolvementOpportunity,
    *,
    key: str,
    template: str,
    organisation_name: str | None = None,
    **context: Any,
) -> bool:
    """An email to the opportunity's contact about it (False when it has no address)."""
    if not opp.contact_email:
        return False
    if organisation_name is None:
        organisation_name = organisation_name_of(session, opp)
    queued = enqueue(
        session,
        renderer,
        key=key,
        kind=f"involvement_{template}",
        template=f"involvement/{template}",
        to=opp.contact_email,
        to_name=opp.contact_name,
        context={
            "contact_name": opp.contact_name,
            "opportunity_title": opp.title,
            "organisation_name": organisation_name,
            "closing_date": format_date(opp.closing_date),
            **context,
        },
    )
    return queued is not None


def organisation_name_of(session: Session, opp: m.InvolvementOpportunity) -> str:
    if opp.organisation_id is None:
        return ""
    return session.scalar(select(m.Organisation.name).where(m.Organisation.id == opp.organisation_id)) or ""


# ---------------------------------------------------------------------------------------------------------------
# Moderation (the fellow)

MODERATED = (Status.SUBMITTED, Status.DRAFT)


def approve(
    session: Session,
    renderer: EmailRenderer,
    signer: Any,
    opp: m.InvolvementOpportunity,
    *,
    actor: Principal,
    base_url: str,
    now: dt.datetime,
    note: str = "",
) -> m.InvolvementOpportunity:
    """Publish a submitted (or draft) opportunity; a public poster gets their private manage link. Refused with a
    message when it is not waiting, or when its closing date has passed (``FieldErrors`` on ``closing_date``)."""
    if opp.status not in MODERATED:
        raise FieldErrors({"status": "Only an opportunity waiting for approval (or a draft) can be published."})
    editing.publish(session, opp, now, actor=actor)
    opp.reviewed_at = now
    opp.review_note = note[:1000]
    if opp.public_posted:
        send_manage_link(session, renderer, signer, opp, base_url=base_url, now=now, reason="approved")
    session.flush()
    return opp


def reject(
    session: Session, renderer: EmailRenderer, opp: m.InvolvementOpportunity, *, actor: Principal, now: dt.datetime,
    note: str = "",
) -> m.InvolvementOpportunity:  # fmt: skip
    """Turn down a submitted opportunity; its poster is told kindly, with the fellow's note if there is one."""
    if opp.status != Status.SUBMITTED:
        raise FieldErrors({"status": "Only an opportunity waiting for approval can be turned down."})
    opp.status = Status.REJECTED
    opp.reviewed_at = now
    opp.review_note = note[:1000]
    changes: dict[str, Any] = {"status": [Status.SUBMITTED.value, Status.REJECTED.value]}
    if note:
        changes["review_note"] = [None, note[:1000]]
    audit.record(session, actor, "reject", ENTITY, opp.id, summary=opp.title, changes=changes)
    _email_poster(
        session,
        renderer,
        opp,
        key=f"involvement:posting-rejected:{opp.id}:{now.strftime('%Y%m%dT%H%M%S%f')}",
        template="posting_rejected",
        note=opp.review_note,
    )
    session.flush()
    return opp


# ---------------------------------------------------------------------------------------------------------------
# The manage link


def manage_url(signer: Any, opp: m.InvolvementOpportunity, base_url: str) -> str:
    """The poster's private manage link; an opportunity without a key gets one."""
    if not opp.manage_key:
        opp.manage_key = secrets.token_urlsafe(24)
    token = signer.sign(MANAGE_PURPOSE, {"i": opp.id, "k": opp.manage_key})
    return f"{base_url.rstrip('/')}/involvement/manage?token={token}"


def send_manage_link(
    session: Session,
    renderer: EmailRenderer,
    signer: Any,
    opp: m.InvolvementOpportunity,
    *,
    base_url: str,
    now: dt.datetime,
    reason: str,
    actor: Principal | None = None,
) -> bool:
    """Email the contact their private manage link. ``reason``: ``approved`` (it is live) or ``new`` (a fresh link;
    with ``actor`` the fellow replaces the key, so every earlier link stops working). False without an address."""
    if not opp.contact_email:
        return False
    if reason == "new" and actor is not None:
        opp.manage_key = secrets.token_urlsafe(24)
        audit.record(session, actor, "manage link", ENTITY, opp.id, summary="A new manage link sent to the poster")
    sent = _email_poster(
        session,
        renderer,
        opp,
        key=f"involvement:manage-link:{opp.id}:{reason}:{now.strftime('%Y%m%dT%H%M%S%f')}",
        template="posting_manage_link",
        reason=reason,
        note=opp.review_note if reason == "approved" else "",
        manage_url=manage_url(signer, opp, base_url),
        page_url=f"{base_url.rstrip('/')}/involvement/{opp.slug}",
        days=MANAGE_DAYS,
    )
    opp.manage_link_sent_at = now
    session.flush()
    return sent


def _payload(signer: Any, token: str, *, ignore_age: bool = False) -> tuple[int, str]:
    payload = signer.verify(MANAGE_PURPOSE, token, max_age=10**10 if ignore_age else None)
    if not isinstance(payload, dict) or not isinstance(payload.get("i"), int) or not isinstance(payload.get("k"), str):
        raise TokenError(INVALID)
    return payload["i"], payload["k"]


def manage_opportunity(session: Session, signer: Any, token: str) -> m.InvolvementOpportunity:
    """The opportunity a manage link opens. Raises ``TokenError`` (``expired`` set for an old link; a tampered link
    or one replaced by a newer link are invalid) or ``NotFound`` (deleted)."""
    if not token:
        raise TokenError("This page needs the private link from your email. Open the link in the email again.")
    opportunity_id, key = _payload(signer, token)
    opp = session.get(m.InvolvementOpportunity, opportunity_id)
    if opp is None:
        raise NotFound("This opportunity has been deleted.")
    if not opp.manage_key or not hmac.compare_digest(key.encode(), opp.manage_key.encode()):
        raise TokenError("This link has been replaced by a newer one. Use the link in the most recent email.")
    return opp


def expired_link_opportunity(session: Session, signer: Any, token: str) -> m.InvolvementOpportunity | None:
    """The opportunity of a genuine link that has only expired (so a fresh one may be sent to its own contact);
    None for anything else. Nothing about the opportunity is shown to whoever holds the old link."""
    try:
        opportunity_id, key = _payload(signer, token, ignore_age=True)
    except TokenError:
        return None
    opp = session.get(m.InvolvementOpportunity, opportunity_id)
    if opp is None or not opp.manage_key or not hmac.compare_digest(key.encode(), opp.manage_key.encode()):
        return None
    return opp


def poster_close(session: Session, opp: m.InvolvementOpportunity, *, now: dt.datetime) -> bool:
    """The poster closes their opportunity (its page stays and says so). False when it was already closed."""
    if opp.status == Status.CLOSED:
        return False
    if opp.status == Status.REJECTED:
        raise FieldErrors({"status": "This opportunity was not published, so there is nothing to close."})
    editing.close(session, opp, now, actor=POSTER)
    session.flush()
    return True


@dataclasses.dataclass(frozen=True, slots=True)
class Facts:
    """What the admin page shows beside an opportunity's own columns (names of what it links to)."""

    organisation_name: str
    region_name: str
    topics: list[str]


def facts(session: Session, opp: m.InvolvementOpportunity) -> Facts:
    """The organisation's and region's names and the topics, in one statement plus one for the topics."""
    row = session.execute(
        select(m.Organisation.name, m.Region.name)
        .select_from(m.InvolvementOpportunity)
        .outerjoin(m.Organisation, m.Organisation.id == m.InvolvementOpportunity.organisation_id)
        .outerjoin(m.Region, m.Region.id == m.InvolvementOpportunity.region_id)
        .where(m.InvolvementOpportunity.id == opp.id)
    ).one()
    links = m.involvement_opportunity_topics
    topics = list(
        session.scalars(
            select(m.Topic.name)
            .join(links, links.c.topic_id == m.Topic.id)
            .where(links.c.opportunity_id == opp.id)
            .order_by(m.Topic.name)
        )
    )
    return Facts(organisation_name=row[0] or "", region_name=row[1] or "", topics=topics)


def delete(session: Session, opp: m.InvolvementOpportunity, *, actor: Principal) -> None:
    """Delete an opportunity and, with it, every expression of interest in it (the database cascades); the history
    keeps that it was deleted and how many people's data went with it, never who they were."""
    people = session.scalar(select(func.count()).where(m.InvolvementInterest.opportunity_id == opp.id))
    audit.record(
        session,
        actor,
        "delete",
        ENTITY,
        opp.id,
        summary=f"{opp.title} (and {people or 0} expressions of interest)",
        changes={"status": [opp.status.value, None]},
    )
    session.delete(opp)
    session.flush()
