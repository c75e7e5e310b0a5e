"""Erasure of one person's personal data (UK GDPR), keeping the rows that counts depend on.

Erasure is targeted first (each table that holds personal data is anonymised in place, keeping the rows so
counts stay right: consent actions and times, invitations and attendance, outbox kinds and statuses), then the
sweep (``crm.privacy.sweep``) catches what is left anywhere. Finally the address is suppressed as
``sha256:<hex>`` and an audit entry records what was done, by counts only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.principal import Principal
from crm.audit import record
from crm.models.base import utcnow
from crm.privacy import involvement
from crm.privacy.subjects import (
    Subject,
    audit_conditions,
    consent_conditions,
    outbox_conditions,
    place_request_conditions,
    subscription_conditions,
)
from crm.privacy.suppression import address_hash
from crm.privacy.sweep import ERASED, ERASED_NAME, sweep


def placeholder(kind: str, row_id: int) -> str:
    return f"erased-{kind}-{row_id}@erased.invalid"


def anonymous_subscription(sub_id: int) -> dict[str, Any]:
    """A subscription's personal fields, anonymised (erasure and retention); it stays as an unsubscribed row."""
    return {
        "email": placeholder("subscriber", sub_id),
        "name": "",
        "organisation_name": "",
        "organisation_id": None,
        "contact_id": None,
        "filters": {},
        "status": m.SubscriptionStatus.UNSUBSCRIBED.value,
    }


# A consent entry keeps its action, mechanism, mailings and time; an email keeps its kind, status and times.
ANONYMOUS_CONSENT = {"email": ERASED, "ip": "", "user_agent": "", "source_url": "", "detail": {}}
ANONYMOUS_EMAIL = {
    "recipient": ERASED,
    "recipient_name": "",
    "subject": "",
    "text_body": None,
    "html_body": None,
    "sent_copy": None,
    "headers": {},
    "attachments": [],
    "context": None,
}


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
    sub_cond = subscription_conditions(email, cid)
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
                **anonymous_subscription(sid),
                funder_ids=[],
                unsubscribed_at=func.coalesce(st.c.unsubscribed_at, now),
                confirm_nonce=st.c.confirm_nonce + 1,
                updated_at=now,
            ),
        )
    ct = m.ConsentEntry.__table__  # Core UPDATE: the ORM append-only guard is for application code paths
    consent_cond = consent_conditions(email, sub_ids)
    if consent_cond:
        run("consent_entries", update(ct).where(ct.c.actor == email).values(actor="subscriber")) if email else None
        run("consent_entries", update(ct).where(or_(*consent_cond)).values(**ANONYMOUS_CONSENT))

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
    place_cond = place_request_conditions(email, cid)
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
                update(it).where(it.c.id == r.id).values(name="Erased", email=placeholder("interest", r.id), note=""),
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

    # Involvement (special-category data): the network membership goes, interests and answers are anonymised,
    # records keep their hours and payments without the person (crm/privacy/involvement.py).
    if email:
        names |= involvement.personal_names(session, email)
    involvement.erase(session, email, names, run)

    # Outbox: keep kind, status and times; remove recipient, bodies (and the sent copy), headers, attachments, context.
    obt = m.OutboxMessage.__table__
    out_cond = outbox_conditions(email, cid, sub_ids)
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
            update(obt).where(or_(*out_cond)).values(**ANONYMOUS_EMAIL, last_error="", contact_id=None),
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
            .values(email=placeholder("user", user.id), name="", is_active=False, contact_id=None, updated_at=now),
        )
        run("audit_entries", update(at).where(at.c.user_id == user.id).values(actor=f"erased user #{user.id}"))
    if email:
        run("audit_entries", update(at).where(at.c.actor == email).values(actor="erased user"))
        act = m.PartnershipActivity.__table__
        run("partnership_activities", update(act).where(act.c.recorded_by == email).values(recorded_by=""))
    audit_cond = audit_conditions(cid, sub_ids)
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
