"""Groups that add themselves through /add-your-group, and the fellow's review of them (approve or reject).

A submission is an organisation waiting for review; the decision is audited and emailed to the submitter through
the outbox in the same transaction.

The fellow's review queue (/admin/review) also shows the involvement opportunities sent through /involvement/offer
and waiting for approval (``opportunities_waiting``), read through the involvement list's own query so the queue
and its "Waiting for approval" tab can never differ; deciding them is ``crm.involvement.posting``'s.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.accounts.principal import Principal
from crm.directory.errors import DirectoryError
from crm.directory.organisations import create_organisation, org_snapshot
from crm.involvement import access as involvement_access
from crm.listing import ListParams

QUEUE_LIMIT = 200


def submit_group(session: Session, values: dict[str, Any], submitter_name: str, submitter_email: str) -> m.Organisation:
    values = dict(values)
    values.update(
        review_status=m.ReviewStatus.SUBMITTED,
        visibility=m.Visibility.PUBLIC,
        submitter_name=submitter_name,
        submitter_email=submitter_email,
    )
    return create_organisation(session, None, values, action="submitted")


def review_queue(session: Session) -> list[Any]:
    o = m.Organisation
    return list(
        session.execute(
            select(o.id, o.name, o.kind, o.submitter_name, o.submitter_email, o.created_at, o.description)
            .where(o.review_status == m.ReviewStatus.SUBMITTED)
            .order_by(o.created_at, o.id)
            .limit(QUEUE_LIMIT)
        )
    )


def opportunities_waiting(session: Session, actor: Principal) -> list[Any]:
    """Involvement opportunities waiting for the fellow's approval, oldest first, with who sent them and the
    facts a decision needs: the involvement list's "Waiting for approval" tab, one statement."""
    opp = m.InvolvementOpportunity
    params = ListParams(filters={"status": m.OpportunityStatus.SUBMITTED.value})
    query = involvement_access.admin_query(actor, params).add_columns(
        opp.summary,
        opp.lived_experience_sought,
        opp.contact_name,
        opp.contact_email,
        m.Organisation.review_status.label("organisation_review_status"),  # a new organisation waits above
    )
    return list(session.execute(query.order_by(opp.submitted_at, opp.created_at, opp.id).limit(QUEUE_LIMIT)))


def review_submission(
    session: Session, renderer: Any, settings: Any, actor: Principal, org: m.Organisation, *, approve: bool, note: str
) -> None:
    """Approve or reject a submitted group and email the submitter (outbox, same transaction)."""
    from crm.mailing.outbox import enqueue

    if org.review_status != m.ReviewStatus.SUBMITTED:
        raise DirectoryError("This organisation has already been reviewed.")
    before = org_snapshot(session, org)
    org.review_status = m.ReviewStatus.APPROVED if approve else m.ReviewStatus.REJECTED
    org.reviewed_at = m.utcnow()
    org.review_note = note[:1000]
    session.flush()
    audit.record(
        session,
        actor,
        "approved" if approve else "rejected",
        "organisation",
        org.id,
        summary=org.name + (f" ({note[:200]})" if note else ""),
        changes=audit.diff(before, org_snapshot(session, org)),
    )
    if org.submitter_email:
        outcome = "approved" if approve else "rejected"
        enqueue(
            session,
            renderer,
            key=f"submission:{org.id}:{outcome}",
            kind=f"submission_{outcome}",
            to=org.submitter_email,
            to_name=org.submitter_name,
            context={
                "name": org.submitter_name,
                "organisation": org.name,
                "note": note,
                "link": f"{settings.base_url.rstrip('/')}/organisations/{org.slug}",
            },
        )
