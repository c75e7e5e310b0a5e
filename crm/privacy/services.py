"""Subject-access export and erasure for one person, found by contact id or by email address.

A person may be a contact, a subscriber without a contact, a user, someone who registered interest in an
internship or asked for an event place — or several of these under one email address. ``find_subject`` joins
them up by email and contact id; ``export`` lists everything held; ``erase`` removes the personal data.

Erasure is targeted first (each table that holds personal data is anonymised in place, keeping the rows so
counts stay right: consent actions and times, invitations and attendance, outbox kinds and statuses), then a
**sweep** searches every text and JSON column of every table in ``Base.metadata`` for the email address (and
the person's full names as whole words, outside other people's name columns) and replaces what it finds with
``[erased]`` — so data written by a domain added later is covered too. Finally the address is suppressed as
``sha256:<hex>`` and an audit entry records what was done, by counts only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from typing import Any

from sqlalchemy import JSON, String, Text, and_, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from crm import models as m
from crm.audit import record
from crm.models.base import utcnow
from crm.privacy.suppression import address_hash, normalise
from crm.web.auth import Principal

ERASED = "[erased]"
ERASED_NAME = "Erased contact"

# Columns holding *other people's* names: the name sweep never touches them (the subject's own rows there are
# anonymised by the targeted step; someone else may share the name).
IDENTITY_NAME_COLUMNS = {
    ("contacts", "name"),
    ("users", "name"),
    ("subscriptions", "name"),
    ("internship_interests", "name"),
    ("event_place_requests", "name"),
    ("outbox_messages", "recipient_name"),
    ("organisations", "submitter_name"),
    ("internships", "host_contact_name"),
    ("organisations", "name"),
    ("organisations", "name_normalised"),
    ("organisations", "slug"),
}
# Columns the sweep never rewrites: the hashed suppression itself.
SWEEP_SKIP = {("suppressions", "address")}
MIN_NAME_LENGTH = 4


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
    return any(session.scalar(q.limit(1)) is not None for q in checks)


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


def _mapping(row: Any) -> dict[str, Any]:
    return {k: _plain(v) for k, v in row._mapping.items()}


def export(session: Session, subject: Subject) -> dict[str, Any]:
    """Everything held about the subject, as plain JSON-ready data, grouped by what it is."""
    email, contact, user = subject.email, subject.contact, subject.user
    cid = contact.id if contact is not None else None
    out: dict[str, Any] = {"email": email, "exported_at": utcnow().isoformat()}

    if contact is not None:
        out["contact"] = _row(contact)
        out["affiliations"] = [
            _mapping(r)
            for r in session.execute(
                select(m.Affiliation.role, m.Affiliation.is_primary, m.Organisation.name.label("organisation"))
                .join(m.Organisation, m.Organisation.id == m.Affiliation.organisation_id)
                .where(m.Affiliation.contact_id == cid)
            )
        ]
        out["topics"] = list(
            session.scalars(
                select(m.Topic.name)
                .join(m.contact_topics, m.contact_topics.c.topic_id == m.Topic.id)
                .where(m.contact_topics.c.contact_id == cid)
                .order_by(m.Topic.name)
            )
        )
        out["regions"] = list(
            session.scalars(
                select(m.Region.name)
                .join(m.contact_regions, m.contact_regions.c.region_id == m.Region.id)
                .where(m.contact_regions.c.contact_id == cid)
                .order_by(m.Region.position)
            )
        )
        out["contact_lists"] = list(
            session.scalars(
                select(m.ContactList.name)
                .join(m.ContactListMember, m.ContactListMember.list_id == m.ContactList.id)
                .where(m.ContactListMember.contact_id == cid)
            )
        )

    sub_cond = [m.Subscription.email == email] if email else []
    if cid is not None:
        sub_cond.append(m.Subscription.contact_id == cid)
    subs = list(session.scalars(select(m.Subscription).where(or_(*sub_cond)))) if sub_cond else []
    sub_ids = [s.id for s in subs]
    out["subscriptions"] = []
    for s in subs:
        item = _row(s, exclude=("confirm_nonce",))
        item["topics"] = list(
            session.scalars(
                select(m.Topic.name)
                .join(m.subscription_topics, m.subscription_topics.c.topic_id == m.Topic.id)
                .where(m.subscription_topics.c.subscription_id == s.id)
            )
        )
        item["regions"] = list(
            session.scalars(
                select(m.Region.name)
                .join(m.subscription_regions, m.subscription_regions.c.region_id == m.Region.id)
                .where(m.subscription_regions.c.subscription_id == s.id)
            )
        )
        out["subscriptions"].append(item)
    consent_cond = []
    if email:
        consent_cond.append(m.ConsentEntry.email == email)
    if sub_ids:
        consent_cond.append(m.ConsentEntry.subscription_id.in_(sub_ids))
    out["consent_log"] = (
        _rows(session, select(m.ConsentEntry).where(or_(*consent_cond)).order_by(m.ConsentEntry.id))
        if consent_cond
        else []
    )

    if cid is not None:
        out["invitations"] = [
            _mapping(r)
            for r in session.execute(
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
                .order_by(m.Event.starts_at)
            )
        ]
        inv_ids = [i["id"] for i in out["invitations"]]
        out["rsvp_answers"] = (
            _rows(session, select(m.RsvpResponse).where(m.RsvpResponse.invitation_id.in_(inv_ids))) if inv_ids else []
        )
        out["partnership_memberships"] = [
            _mapping(r)
            for r in session.execute(
                select(
                    m.Partnership.id.label("partnership_id"),
                    m.Partnership.title,
                    m.PartnershipMember.side,
                    m.PartnershipMember.role,
                )
                .join(m.Partnership, m.Partnership.id == m.PartnershipMember.partnership_id)
                .where(m.PartnershipMember.contact_id == cid)
            )
        ]
    place_cond = [m.PlaceRequest.email == email] if email else []
    if cid is not None:
        place_cond.append(m.PlaceRequest.contact_id == cid)
    out["event_place_requests"] = _rows(session, select(m.PlaceRequest).where(or_(*place_cond))) if place_cond else []
    out["internship_interests"] = (
        [
            _mapping(r)
            for r in session.execute(
                select(
                    m.InternshipInterest.id,
                    m.Internship.title.label("internship"),
                    m.InternshipInterest.name,
                    m.InternshipInterest.email,
                    m.InternshipInterest.note,
                    m.InternshipInterest.consent_wording,
                    m.InternshipInterest.consented_at,
                )
                .join(m.Internship, m.Internship.id == m.InternshipInterest.internship_id)
                .where(m.InternshipInterest.email == email)
            )
        ]
        if email
        else []
    )
    if email:
        out["internships_as_host_contact"] = [
            _mapping(r)
            for r in session.execute(
                select(m.Internship.id, m.Internship.title, m.Internship.host_contact_name).where(
                    or_(m.Internship.host_contact_email == email, m.Internship.apply_email == email)
                )
            )
        ]
        out["organisations_submitted"] = [
            _mapping(r)
            for r in session.execute(
                select(
                    m.Organisation.id,
                    m.Organisation.name,
                    m.Organisation.submitter_name,
                    m.Organisation.review_status,
                    m.Organisation.created_at,
                ).where(m.Organisation.submitter_email == email)
            )
        ]

    act_cond = []
    if user is not None:
        act_cond.append(m.PartnershipActivity.recorded_by_id == user.id)
    if email:
        act_cond.append(m.PartnershipActivity.recorded_by == email)
    out["activities_recorded"] = _rows(session, select(m.PartnershipActivity).where(or_(*act_cond))) if act_cond else []

    outbox_cond = []
    if email:
        outbox_cond.append(m.OutboxMessage.recipient == email)
    if cid is not None:
        outbox_cond.append(m.OutboxMessage.contact_id == cid)
    if sub_ids:
        outbox_cond.append(m.OutboxMessage.subscription_id.in_(sub_ids))
    out["emails_sent"] = (
        [
            _mapping(r)
            for r in session.execute(
                select(
                    m.OutboxMessage.id,
                    m.OutboxMessage.kind,
                    m.OutboxMessage.subject,
                    m.OutboxMessage.status,
                    m.OutboxMessage.created_at,
                    m.OutboxMessage.sent_at,
                    m.OutboxMessage.delivery_status,
                    m.OutboxMessage.text_body,
                )
                .where(or_(*outbox_cond))
                .order_by(m.OutboxMessage.id)
            )
        ]
        if outbox_cond
        else []
    )
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

    audit_cond = []
    if cid is not None:
        audit_cond.append(and_(m.AuditEntry.entity == "contact", m.AuditEntry.entity_id == cid))
    if sub_ids:
        audit_cond.append(and_(m.AuditEntry.entity == "subscription", m.AuditEntry.entity_id.in_(sub_ids)))
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
    "organisations_submitted": "Organisations they submitted",
    "activities_recorded": "Partnership activities they recorded",
    "emails_sent": "Emails sent to them",
    "delivery_events": "Mail delivery events",
    "suppressions": "Suppression list",
    "user_account": "User account",
    "sessions": "Signed-in sessions",
    "audit_entries": "Audit entries about them",
}


# --- erasure --------------------------------------------------------------------------------------------------


def _placeholder(kind: str, row_id: int) -> str:
    return f"erased-{kind}-{row_id}@erased.invalid"


def erase(
    session: Session,
    subject: Subject,
    actor: Principal | None,
    *,
    now: dt.datetime | None = None,
    suppress: bool = True,
    reason: str = "erasure request",
) -> dict[str, int]:
    """Remove the subject's personal data everywhere; returns counts of what was changed (no personal data).

    ``suppress`` (erasure requests) keeps the address on the suppression list as ``sha256:<hex>`` so it is never
    emailed again; retention anonymisation passes ``suppress=False``."""
    now = now or utcnow()
    email, contact, user = subject.email, subject.contact, subject.user
    cid = contact.id if contact is not None else None
    names = {n for n in (contact.name if contact else "", user.name if user else "") if n}
    counts: dict[str, int] = {}

    def run(label: str, stmt: Any) -> None:
        result = session.execute(stmt.execution_options(synchronize_session=False))
        counts[label] = counts.get(label, 0) + (result.rowcount or 0)

    # Subscriptions and their consent log (the log keeps action, mechanism, mailings and times).
    sub_cond = [m.Subscription.email == email] if email else []
    if cid is not None:
        sub_cond.append(m.Subscription.contact_id == cid)
    subs = (
        session.execute(select(m.Subscription.id, m.Subscription.name).where(or_(*sub_cond))).all() if sub_cond else []
    )
    sub_ids = [s.id for s in subs]
    names |= {s.name for s in subs if s.name}
    st = m.Subscription.__table__
    for sid in sub_ids:
        run(
            "subscriptions",
            update(st)
            .where(st.c.id == sid)
            .values(
                email=_placeholder("subscriber", sid),
                name="",
                organisation_name="",
                organisation_id=None,
                contact_id=None,
                filters={},
                funder_ids=[],
                status=m.SubscriptionStatus.UNSUBSCRIBED.value,
                unsubscribed_at=func.coalesce(st.c.unsubscribed_at, now),
                confirm_nonce=st.c.confirm_nonce + 1,
                updated_at=now,
            ),
        )
    ct = m.ConsentEntry.__table__  # Core UPDATE: the ORM append-only guard is for application code paths
    consent_cond = []
    if email:
        consent_cond.append(ct.c.email == email)
    if sub_ids:
        consent_cond.append(ct.c.subscription_id.in_(sub_ids))
    if consent_cond:
        run("consent_entries", update(ct).where(ct.c.actor == email).values(actor="subscriber")) if email else None
        run(
            "consent_entries",
            update(ct).where(or_(*consent_cond)).values(email=ERASED, ip="", user_agent="", source_url="", detail={}),
        )

    # Events: invitations stay (attendance counts) with their notes removed; place requests anonymised.
    if cid is not None:
        inv_ids = select(m.Invitation.id).where(m.Invitation.contact_id == cid)
        run(
            "invitations",
            update(m.Invitation.__table__).where(m.Invitation.__table__.c.contact_id == cid).values(note=""),
        )
        rt = m.RsvpResponse.__table__
        run("rsvp_responses", update(rt).where(rt.c.invitation_id.in_(inv_ids)).values(note=""))
        mt = m.ContactListMember.__table__
        run("contact_list_members", delete(mt).where(mt.c.contact_id == cid))
    pt = m.PlaceRequest.__table__
    place_cond = [pt.c.email == email] if email else []
    if cid is not None:
        place_cond.append(pt.c.contact_id == cid)
    if place_cond:
        names |= {n for n in session.scalars(select(pt.c.name).where(or_(*place_cond))) if n}
        run(
            "event_place_requests",
            update(pt)
            .where(or_(*place_cond))
            .values(name="Erased", email=ERASED, organisation_name="", note="", contact_id=None),
        )

    if email:
        it = m.InternshipInterest.__table__
        rows = session.execute(select(it.c.id, it.c.name).where(it.c.email == email)).all()
        names |= {r.name for r in rows if r.name}
        for r in rows:
            run(
                "internship_interests",
                update(it).where(it.c.id == r.id).values(name="Erased", email=_placeholder("interest", r.id), note=""),
            )
        ht = m.Internship.__table__
        names |= {
            n for n in session.scalars(select(ht.c.host_contact_name).where(ht.c.host_contact_email == email)) if n
        }
        run(
            "internships",
            update(ht).where(ht.c.host_contact_email == email).values(host_contact_email="", host_contact_name=""),
        )
        run("internships", update(ht).where(ht.c.apply_email == email).values(apply_email=""))
        ot = m.Organisation.__table__
        names |= {n for n in session.scalars(select(ot.c.submitter_name).where(ot.c.submitter_email == email)) if n}
        run(
            "organisations",
            update(ot).where(ot.c.submitter_email == email).values(submitter_email="", submitter_name=""),
        )
        run("organisations", update(ot).where(ot.c.public_email == email).values(public_email=""))

    # Outbox: keep kind, status and times; remove recipient, bodies, headers, attachments and render context.
    obt = m.OutboxMessage.__table__
    out_cond = [obt.c.recipient == email] if email else []
    if cid is not None:
        out_cond.append(obt.c.contact_id == cid)
    if sub_ids:
        out_cond.append(obt.c.subscription_id.in_(sub_ids))
    outbox_ids: list[int] = []
    if out_cond:
        outbox_ids = list(session.scalars(select(obt.c.id).where(or_(*out_cond))))
        pending = (m.OutboxStatus.QUEUED.value, m.OutboxStatus.RETRY.value, m.OutboxStatus.AMBIGUOUS.value)
        run(
            "outbox_cancelled",
            update(obt).where(or_(*out_cond), obt.c.status.in_(pending)).values(status=m.OutboxStatus.CANCELLED.value),
        )
        run(
            "outbox_messages",
            update(obt)
            .where(or_(*out_cond))
            .values(
                recipient=ERASED,
                recipient_name="",
                subject="",
                text_body=None,
                html_body=None,
                headers={},
                attachments=[],
                context=None,
                last_error="",
                contact_id=None,
            ),
        )
    dt_ = m.DeliveryEvent.__table__
    ev_cond = [dt_.c.email == email] if email else []
    if outbox_ids:
        ev_cond.append(dt_.c.outbox_id.in_(outbox_ids))
    if ev_cond:
        run("delivery_events", update(dt_).where(or_(*ev_cond)).values(email="", payload={}, reason=""))

    # A user account: signed out everywhere, deactivated, anonymised; audit entries keep a neutral actor.
    at = m.AuditEntry.__table__
    if user is not None:
        run("user_sessions", delete(m.UserSession.__table__).where(m.UserSession.__table__.c.user_id == user.id))
        run("sign_in_tokens", delete(m.SignInToken.__table__).where(m.SignInToken.__table__.c.user_id == user.id))
        run(
            "users",
            update(m.User.__table__)
            .where(m.User.__table__.c.id == user.id)
            .values(email=_placeholder("user", user.id), name="", is_active=False, contact_id=None, updated_at=now),
        )
        run("audit_entries", update(at).where(at.c.user_id == user.id).values(actor=f"erased user #{user.id}"))
    if email:
        run("audit_entries", update(at).where(at.c.actor == email).values(actor="erased user"))
        act = m.PartnershipActivity.__table__
        run("partnership_activities", update(act).where(act.c.recorded_by == email).values(recorded_by=""))
    audit_cond = []
    if cid is not None:
        audit_cond.append(and_(at.c.entity == "contact", at.c.entity_id == cid))
    if sub_ids:
        audit_cond.append(and_(at.c.entity == "subscription", at.c.entity_id.in_(sub_ids)))
    if audit_cond:
        run("audit_entries", update(at).where(or_(*audit_cond)).values(summary="(personal data erased)", changes={}))

    # The contact itself: kept as a nameless row so partnership and invitation counts stay right.
    if contact is not None:
        ctt = m.Contact.__table__
        run("affiliations", delete(m.Affiliation.__table__).where(m.Affiliation.__table__.c.contact_id == cid))
        run("contact_topics", delete(m.contact_topics).where(m.contact_topics.c.contact_id == cid))
        run("contact_regions", delete(m.contact_regions).where(m.contact_regions.c.contact_id == cid))
        run(
            "contacts",
            update(ctt)
            .where(ctt.c.id == cid)
            .values(
                name=ERASED_NAME,
                email=None,
                phone="",
                job_title="",
                career_stage=None,
                notes="",
                erased_at=now,
                updated_at=now,
            ),
        )

    needles = [email] if email else []
    counts["swept"] = sweep(session, needles, names)

    if email and suppress:
        _suppress_hashed(session, email, now)
        counts["suppressed"] = 1
    record(
        session,
        actor,
        "erase",
        "contact" if cid is not None else "person",
        cid,
        summary=f"Personal data erased ({reason})",
        changes={"counts": {k: v for k, v in sorted(counts.items()) if v}},
    )
    session.flush()
    session.expire_all()
    return counts


def _suppress_hashed(session: Session, email: str, now: dt.datetime) -> None:
    hashed = address_hash(email)
    sup = m.Suppression.__table__
    has_hash = session.scalar(select(sup.c.id).where(sup.c.address == hashed)) is not None
    plain = session.scalar(select(sup.c.id).where(sup.c.address == email))
    if plain is not None and has_hash:
        session.execute(delete(sup).where(sup.c.id == plain))
    elif plain is not None:
        session.execute(update(sup).where(sup.c.id == plain).values(address=hashed, note="", lifted_at=None))
    if not has_hash and plain is None:
        session.execute(insert(sup).values(address=hashed, reason="erased", source="privacy", note="", created_at=now))
    elif has_hash:
        session.execute(update(sup).where(sup.c.address == hashed).values(lifted_at=None))


# --- the sweep ------------------------------------------------------------------------------------------------


def _text_columns(table: Any) -> list[Any]:
    return [c for c in table.columns if isinstance(c.type, String | Text | JSON) or _is_json(c)]


def _is_json(column: Any) -> bool:
    return isinstance(column.type, JSON) or "JSON" in type(column.type).__name__.upper()


def _variants(value: str) -> set[str]:
    """The value as written in a text column and as escaped inside stored JSON (non-ASCII as \\uXXXX)."""
    return {value, json.dumps(value)[1:-1]}


def _pattern(needle: str, whole_word: bool) -> re.Pattern[str]:
    """Names match as whole words; an email only as a whole address (``ann@x.org`` never matches inside
    ``joann@x.org`` or ``ann@x.org.uk``)."""
    body = re.escape(needle)
    if whole_word:
        return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)
    return re.compile(rf"(?<![\w.%+-]){body}(?![\w-]|\.[\w-])", re.IGNORECASE)


def _scrub(value: Any, patterns: list[re.Pattern[str]]) -> Any:
    if isinstance(value, str):
        for p in patterns:
            value = p.sub(ERASED, value)
        return value
    if isinstance(value, list):
        return [_scrub(v, patterns) for v in value]
    if isinstance(value, dict):
        return {_scrub(k, patterns): _scrub(v, patterns) for k, v in value.items()}
    return value


def sweep(session: Session, emails: list[str], names: set[str]) -> int:
    """Replace every remaining occurrence of the emails (anywhere) and names (whole words, outside other people's
    name columns) in every text/JSON column of every table with ``[erased]``. Returns cells changed."""
    from sqlalchemy import Text as TextType
    from sqlalchemy import cast

    session.flush()
    email_needles = [e for e in emails if e]
    name_needles = sorted({n.strip() for n in names if len(n.strip()) >= MIN_NAME_LENGTH and n != ERASED_NAME})
    if not email_needles and not name_needles:
        return 0
    changed = 0
    for table in m.Base.metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        if not pk:
            continue
        for column in _text_columns(table):
            if (table.name, column.name) in SWEEP_SKIP:
                continue
            needles = [(e, False) for e in email_needles]  # (needle, is_a_name)
            if (table.name, column.name) not in IDENTITY_NAME_COLUMNS:
                needles += [(n, True) for n in name_needles]
            if not needles:
                continue
            as_text = cast(column, TextType) if _is_json(column) else column
            likes = [func.lower(as_text).contains(v.lower(), autoescape=True) for n, _ in needles for v in _variants(n)]
            patterns = [_pattern(n, whole) for n, whole in needles]
            rows = session.execute(select(*pk, column).where(or_(*likes))).all()
            for row in rows:
                old = row[-1]
                new = _scrub(old, patterns)
                if new == old:
                    continue
                key = dict(zip([c.name for c in pk], row[:-1], strict=True))
                session.execute(update(table).where(*(c == key[c.name] for c in pk)).values({column.name: new}))
                changed += 1
    return changed
