"""Who a person is and everything we hold about them (subject access, UK GDPR).

A person may be a contact, a subscriber without a contact, a user, someone who registered interest in an
internship or asked for an event place — or several of these under one email address. ``find_subject`` joins
them up by email and contact id; ``export`` lists everything held, grouped as ``EXPORT_SECTIONS`` names it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.directory.taxonomy import linked_names
from crm.mailing import prune
from crm.models.base import utcnow
from crm.privacy import involvement
from crm.privacy.suppression import address_hash, normalise
from crm.settings import Settings


class NotFound(LookupError):
    pass


@dataclasses.dataclass
class Subject:
    email: str | None
    contact: m.Contact | None
    user: m.User | None

    @property
    def label(self) -> str:
        if self.contact is not None:
            return f"contact #{self.contact.id}"
        return "subscriber" if self.email else "unknown"


def find_subject(session: Session, *, email: str | None = None, contact_id: int | None = None) -> Subject:
    """Raises ``NotFound`` when nothing at all is held for the email / contact id."""
    contact = None
    if contact_id is not None:
        contact = session.get(m.Contact, contact_id)
        if contact is None:
            raise NotFound(f"There is no contact #{contact_id}.")
        email = contact.email or email
    address = normalise(email) if email else None
    if contact is None and address:
        contact = session.scalar(select(m.Contact).where(m.Contact.email == address))
    user = None
    conditions = []
    if address:
        conditions.append(m.User.email == address)
    if contact is not None:
        conditions.append(m.User.contact_id == contact.id)
    if conditions:
        user = session.scalar(select(m.User).where(or_(*conditions)).order_by(m.User.id).limit(1))
    subject = Subject(email=address, contact=contact, user=user)
    if contact is None and user is None and (not address or not _held_anywhere(session, address)):
        raise NotFound("Nothing is held for that email address.")
    return subject


def _held_anywhere(session: Session, email: str) -> bool:
    checks = [
        select(m.Subscription.id).where(m.Subscription.email == email),
        select(m.ConsentEntry.id).where(m.ConsentEntry.email == email),
        select(m.InternshipInterest.id).where(m.InternshipInterest.email == email),
        select(m.PlaceRequest.id).where(m.PlaceRequest.email == email),
        select(m.OutboxMessage.id).where(m.OutboxMessage.recipient == email),
        select(m.DeliveryEvent.id).where(m.DeliveryEvent.email == email),
        select(m.Suppression.id).where(m.Suppression.address == email),
        select(m.Organisation.id).where(m.Organisation.submitter_email == email),
    ]
    return any(session.scalar(q.limit(1)) is not None for q in checks) or involvement.held(session, email)


# --- where a person's rows are: the export and the erasure read the same conditions ----------------------------


def _known(*pairs: tuple[Any, Any]) -> list[Any]:
    """The conditions whose value is known (an email, a contact id, some subscription ids)."""
    return [condition for value, condition in pairs if value]


def subscription_conditions(email: str | None, cid: int | None) -> list[Any]:
    t = m.Subscription.__table__
    return _known((email, t.c.email == email), (cid, t.c.contact_id == cid))


def consent_conditions(email: str | None, sub_ids: list[int]) -> list[Any]:
    t = m.ConsentEntry.__table__
    return _known((email, t.c.email == email), (sub_ids, t.c.subscription_id.in_(sub_ids)))


def place_request_conditions(email: str | None, cid: int | None) -> list[Any]:
    t = m.PlaceRequest.__table__
    return _known((email, t.c.email == email), (cid, t.c.contact_id == cid))


def outbox_conditions(email: str | None, cid: int | None, sub_ids: list[int]) -> list[Any]:
    t = m.OutboxMessage.__table__
    return _known(
        (email, t.c.recipient == email), (cid, t.c.contact_id == cid), (sub_ids, t.c.subscription_id.in_(sub_ids))
    )


def audit_conditions(cid: int | None, sub_ids: list[int]) -> list[Any]:
    """Audit entries about the person's contact record and subscriptions (not those they wrote)."""
    t = m.AuditEntry.__table__
    return _known(
        (cid, and_(t.c.entity == "contact", t.c.entity_id == cid)),
        (sub_ids, and_(t.c.entity == "subscription", t.c.entity_id.in_(sub_ids))),
    )


# --- export ---------------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "value") and not isinstance(value, int | float | str | bool):
        return value.value
    return value


def _row(obj: Any, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    return {c.key: _plain(getattr(obj, c.key)) for c in obj.__table__.columns if c.key not in exclude}


def _rows(session: Session, query: Any, exclude: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [_row(o, exclude) for o in session.scalars(query)]


def _mappings(session: Session, query: Any) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row._mapping.items()} for row in session.execute(query)]


def _emails_sent(session: Session, outbox_cond: list[Any], detail_days: int) -> list[dict[str, Any]]:
    """Each email with its subject, text, HTML and headers exactly as sent (``m.email_parts``); an email whose full
    text was pruned after ``detail_days`` (``crm.mailing.prune``) says so in ``note`` rather than showing nothing."""
    o = m.OutboxMessage
    rows = session.execute(
        select(o.id, o.kind, o.status, o.created_at, o.sent_at, o.delivery_status)
        .add_columns(o.subject, o.text_body, o.html_body, o.headers, o.sent_copy, o.context)
        .where(or_(*outbox_cond))
        .order_by(o.id)
    )
    out = []
    for row in rows:
        parts = m.email_parts(row.subject, row.text_body, row.html_body, row.headers, row.sent_copy)
        item = {
            k: _plain(getattr(row, k)) for k in ("id", "kind", "status", "created_at", "sent_at", "delivery_status")
        }
        item.update(subject=parts.subject, text_body=parts.text, html_body=parts.html, headers=parts.headers)
        if prune.is_pruned(parts, row.context, row.status):
            item["note"] = prune.pruned_note(detail_days)
        out.append(item)
    return out


def export(session: Session, subject: Subject, detail_days: int = Settings.mail_detail_days) -> dict[str, Any]:
    """Everything held about the subject, as plain JSON-ready data, grouped by what it is (``detail_days``: the
    configured ``CRM_MAIL_DETAIL_DAYS``, named when an email's full text is no longer kept)."""
    email, contact, user = subject.email, subject.contact, subject.user
    cid = contact.id if contact is not None else None
    out: dict[str, Any] = {"email": email, "exported_at": utcnow().isoformat()}

    if contact is not None:
        out["contact"] = _row(contact)
        out["affiliations"] = _mappings(
            session,
            select(m.Affiliation.role, m.Affiliation.is_primary, m.Organisation.name.label("organisation"))
            .join(m.Organisation, m.Organisation.id == m.Affiliation.organisation_id)
            .where(m.Affiliation.contact_id == cid),
        )
        out["topics"] = linked_names(session, m.contact_topics.c.contact_id, contact.id, m.Topic.name)
        out["regions"] = linked_names(session, m.contact_regions.c.contact_id, contact.id, m.Region.position)
        out["contact_lists"] = list(
            session.scalars(
                select(m.ContactList.name)
                .join(m.ContactListMember, m.ContactListMember.list_id == m.ContactList.id)
                .where(m.ContactListMember.contact_id == cid)
            )
        )

    sub_cond = subscription_conditions(email, cid)
    subs = list(session.scalars(select(m.Subscription).where(or_(*sub_cond)))) if sub_cond else []
    sub_ids = [s.id for s in subs]
    out["subscriptions"] = []
    for s in subs:
        item = _row(s, exclude=("confirm_nonce",))
        item["topics"] = linked_names(session, m.subscription_topics.c.subscription_id, s.id)
        item["regions"] = linked_names(session, m.subscription_regions.c.subscription_id, s.id)
        out["subscriptions"].append(item)
    consent_cond = consent_conditions(email, sub_ids)
    out["consent_log"] = (
        _rows(session, select(m.ConsentEntry).where(or_(*consent_cond)).order_by(m.ConsentEntry.id))
        if consent_cond
        else []
    )

    if cid is not None:
        out["invitations"] = _mappings(
            session,
            select(
                m.Invitation.id,
                m.Event.title.label("event"),
                m.Event.starts_at,
                m.Invitation.status,
                m.Invitation.note,
                m.Invitation.invited_at,
                m.Invitation.responded_at,
                m.Invitation.attended,
            )
            .join(m.Event, m.Event.id == m.Invitation.event_id)
            .where(m.Invitation.contact_id == cid)
            .order_by(m.Event.starts_at),
        )
        inv_ids = [i["id"] for i in out["invitations"]]
        out["rsvp_answers"] = (
            _rows(session, select(m.RsvpResponse).where(m.RsvpResponse.invitation_id.in_(inv_ids))) if inv_ids else []
        )
        out["partnership_memberships"] = _mappings(
            session,
            select(
                m.Partnership.id.label("partnership_id"),
                m.Partnership.title,
                m.PartnershipMember.side,
                m.PartnershipMember.role,
            )
            .join(m.Partnership, m.Partnership.id == m.PartnershipMember.partnership_id)
            .where(m.PartnershipMember.contact_id == cid),
        )
    place_cond = place_request_conditions(email, cid)
    out["event_place_requests"] = _rows(session, select(m.PlaceRequest).where(or_(*place_cond))) if place_cond else []
    out["internship_interests"] = (
        _mappings(
            session,
            select(
                m.InternshipInterest.id,
                m.Internship.title.label("internship"),
                m.InternshipInterest.name,
                m.InternshipInterest.email,
                m.InternshipInterest.note,
                m.InternshipInterest.consent_wording,
                m.InternshipInterest.consented_at,
                m.InternshipInterest.status,  # where the host says it stands, and what the person was told
                m.InternshipInterest.notified_status,
            )
            .join(m.Internship, m.Internship.id == m.InternshipInterest.internship_id)
            .where(m.InternshipInterest.email == email),
        )
        if email
        else []
    )
    if email:
        out["internships_as_host_contact"] = _mappings(
            session,
            select(m.Internship.id, m.Internship.title, m.Internship.host_contact_name).where(
                or_(m.Internship.host_contact_email == email, m.Internship.apply_email == email)
            ),
        )
        out["organisations_submitted"] = _mappings(
            session,
            select(
                m.Organisation.id,
                m.Organisation.name,
                m.Organisation.submitter_name,
                m.Organisation.review_status,
                m.Organisation.created_at,
            ).where(m.Organisation.submitter_email == email),
        )

    act_cond = []
    if user is not None:
        act_cond.append(m.PartnershipActivity.recorded_by_id == user.id)
    if email:
        act_cond.append(m.PartnershipActivity.recorded_by == email)
    names = {n for n in (contact.name if contact else "", user.name if user else "") if n}
    if email:
        names |= involvement.personal_names(session, email)
    out.update(involvement.export(session, email, names))

    out["activities_recorded"] = _rows(session, select(m.PartnershipActivity).where(or_(*act_cond))) if act_cond else []

    outbox_cond = outbox_conditions(email, cid, sub_ids)
    out["emails_sent"] = _emails_sent(session, outbox_cond, detail_days) if outbox_cond else []
    out["delivery_events"] = (
        _rows(session, select(m.DeliveryEvent).where(m.DeliveryEvent.email == email), exclude=("payload",))
        if email
        else []
    )
    out["suppressions"] = (
        _rows(session, select(m.Suppression).where(m.Suppression.address.in_([email, address_hash(email)])))
        if email
        else []
    )
    if user is not None:
        out["user_account"] = _row(user)
        out["sessions"] = _rows(
            session, select(m.UserSession).where(m.UserSession.user_id == user.id), exclude=("token_hash",)
        )

    audit_cond = audit_conditions(cid, sub_ids)
    if email:
        audit_cond.append(m.AuditEntry.actor == email)
    if user is not None:
        audit_cond.append(m.AuditEntry.user_id == user.id)
    out["audit_entries"] = (
        _rows(session, select(m.AuditEntry).where(or_(*audit_cond)).order_by(m.AuditEntry.id)) if audit_cond else []
    )
    return out


EXPORT_SECTIONS = {
    "contact": "Contact record",
    "affiliations": "Organisations they work with",
    "topics": "Topics",
    "regions": "Regions",
    "contact_lists": "Contact lists",
    "subscriptions": "Mailing subscriptions",
    "consent_log": "Consent log",
    "invitations": "Event invitations",
    "rsvp_answers": "RSVP answers",
    "event_place_requests": "Event place requests",
    "partnership_memberships": "Partnership memberships",
    "internship_interests": "Internship interest registrations",
    "internships_as_host_contact": "Internships they are the host contact for",
    **involvement.EXPORT_SECTIONS,
    "organisations_submitted": "Organisations they submitted",
    "activities_recorded": "Partnership activities they recorded",
    "emails_sent": "Emails sent to them",
    "delivery_events": "Mail delivery events",
    "suppressions": "Suppression list",
    "user_account": "User account",
    "sessions": "Signed-in sessions",
    "audit_entries": "Audit entries about them",
}
