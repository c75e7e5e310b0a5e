"""Hosts who post their own placements without an account (issue 20 item 8).

The public form (/internships/offer) sends a listing for the fellow's review, like /add-your-group sends a group:
it is ``submitted`` and ``host_posted``, invisible to the public until approved. The host's organisation is found
in the directory by name, or added as a submission the fellow reviews there too. On approval (or when returned with
a note) the host contact gets a **private signed manage link**: no account, just an itsdangerous token carrying
the listing's id and its ``manage_key``. With it the host edits the listing (an edit goes back for approval),
closes it, marks it filled, extends the closing date, and sees the registrations of interest of that listing only.

A link stops working when it expires (``crm.tokens.PURPOSES``), when the fellow sends a new one (a new key), or
when the listing is deleted; an expired link's page offers a fresh one, sent only to the listing's own host address.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.accounts.principal import Principal
from crm.directory.organisations import clean_website, find_or_submit, website_domain
from crm.errors import FieldErrors, NotFound
from crm.internships import services
from crm.internships.checks import InternshipData, current_data
from crm.internships.lifecycle import MANAGE_PURPOSE, manage_url
from crm.internships.rules import Status, TransitionError, _text, closes_at_for, london_today
from crm.mailing.outbox import enqueue
from crm.mailing.render import EmailRenderer
from crm.timefmt import format_date
from crm.tokens import INVALID, PURPOSES, TokenError
from crm.validation import Form

HOST_FORM_LIMIT_PER_HOUR = 5  # per connection, like /add-your-group
NEW_LINK_LIMIT_PER_HOUR = 3  # per listing: a fresh link only ever goes to the listing's own host address
LONGEST_EXTENSION = dt.timedelta(days=366)
MANAGE_DAYS = (PURPOSES[MANAGE_PURPOSE] or 0) // 86400  # how long a manage link works, as the email says it
# The host acting through the emailed link, as the audit trail names them (no account, no personal data).
HOST = Principal(
    id=0, email="the host (private link)", name="The host", role=m.Role.VIEWER, organisation_id=None, via="link"
)
# Who offers the placement decides who it is for: a charity hosts a researcher, a research team hosts VCSE staff.
HOST_KINDS = {
    m.InternshipDirection.RESEARCHER_TO_VCSE.value: m.OrgKind.VCSE,
    m.InternshipDirection.VCSE_TO_ACADEMIC.value: m.OrgKind.ACADEMIC,
}
HOST_CHOICES = {
    m.InternshipDirection.RESEARCHER_TO_VCSE.value: (
        "A charity, community group or social enterprise, offering a placement to an early career researcher"
    ),
    m.InternshipDirection.VCSE_TO_ACADEMIC.value: (
        "A university or research team, offering a placement to someone from a charity or community group"
    ),
}
EDITABLE = (Status.DRAFT, Status.SUBMITTED, Status.PUBLISHED)
CLOSED_MESSAGE = (
    "This listing is closed, so it can no longer be changed here. You can still update the people who registered "
    "interest. To open it again, ask the fellow."
)


@dataclasses.dataclass(slots=True)
class HostPost:
    data: InternshipData
    organisation_name: str
    organisation_website: str


def validate_host_post(session: Session, raw: Mapping[str, Any], *, now: dt.datetime) -> HostPost:
    """The public form's checks: the listing's own (``checks.validate``) plus the organisation, every message at once."""
    form = Form({"organisation_website": _text(raw.get("organisation_website"))})
    name = _text(raw.get("organisation_name"))
    errors: dict[str, str] = {}
    if not name:
        errors["organisation_name"] = "Enter the name of your organisation."
    elif len(name) > 300 or "\n" in name:
        errors["organisation_name"] = "Use a single line of at most 300 characters for the organisation name."
    website = clean_website(form, "organisation_website")
    if "organisation_website" in form.errors:
        errors["organisation_website"] = "Enter a website address like https://example.org, or leave it empty."
    data: InternshipData | None = None
    try:
        data = services.validate(session, raw, now=now, host_required=False)
    except FieldErrors as exc:
        errors.update(exc.errors)
    if "direction" in errors:
        errors["direction"] = "Say who is offering the placement."
    if not _text(raw.get("host_contact_name")):
        errors["host_contact_name"] = "Enter your name."
    if errors:
        raise FieldErrors(errors)
    assert data is not None
    return HostPost(data=data, organisation_name=name, organisation_website=website)


def submit_host_post(
    session: Session, renderer: EmailRenderer, post: HostPost, *, base_url: str, now: dt.datetime
) -> m.Internship:
    """Store the host's listing as waiting for the fellow's approval and tell the fellow (outbox, same transaction)."""
    org = find_or_submit(
        session,
        post.organisation_name,
        {
            "kind": HOST_KINDS[post.data.direction],
            "website": post.organisation_website,
            "website_domain": website_domain(post.organisation_website),
            "submitter_name": post.data.host_contact_name,
            "submitter_email": post.data.host_contact_email,
        },
    )
    post.data.host_organisation_id = org.id
    assert post.data.closing_date is not None
    internship = m.Internship(
        title=post.data.title,
        slug=services._unique_slug(session, post.data.title),
        host_organisation_id=org.id,
        direction=m.InternshipDirection(post.data.direction),
        mode=m.InternshipMode(post.data.mode),
        closing_date=post.data.closing_date,
        closes_at=closes_at_for(post.data.closing_date),
        status=Status.SUBMITTED,
        submitted_at=now,
        host_posted=True,
        manage_key=secrets.token_urlsafe(24),
    )
    session.add(internship)
    session.flush()
    services._apply(session, internship, post.data)
    audit.record(
        session,
        HOST,
        "create",
        "internship",
        internship.id,
        summary=f"{internship.title} (posted by the host through the public form)",
        changes=audit.diff({}, services._snapshot(post.data, internship.status.value)),
    )
    services.notify_submitted(session, renderer, internship, base_url)
    return internship


# ---------------------------------------------------------------------------------------------------------------
# The manage link


def host_link(signer: Any, internship: m.Internship, base_url: str) -> str:
    """The manage link for emails to a host who posted without an account ("" for listings posted in the admin)."""
    return manage_url(signer, internship, base_url) if internship.host_posted and internship.manage_key else ""


def send_manage_link(
    session: Session,
    renderer: EmailRenderer,
    signer: Any,
    internship: m.Internship,
    *,
    base_url: str,
    now: dt.datetime,
    reason: str,
    actor: Principal | None = None,
) -> bool:
    """Email the host contact their private manage link. ``reason``: ``approved`` (the listing is live),
    ``returned`` (the fellow's note; edit and send it again), ``new`` (a fresh link; with ``actor``, the fellow
    replaces the key so every earlier link stops working). False when the listing has no host address."""
    if not internship.host_contact_email:
        return False
    if reason == "new" and actor is not None:
        internship.manage_key = secrets.token_urlsafe(24)
        audit.record(
            session, actor, "manage link", "internship", internship.id, summary="A new manage link sent to the host"
        )
    host_name = session.scalar(select(m.Organisation.name).where(m.Organisation.id == internship.host_organisation_id))
    base = base_url.rstrip("/")
    enqueue(
        session,
        renderer,
        key=f"internship-manage:{internship.id}:{reason}:{now.strftime('%Y%m%dT%H%M%S%f')}",
        kind="internship_host_link",
        to=internship.host_contact_email,
        to_name=internship.host_contact_name,
        context={
            "reason": reason,
            "contact_name": internship.host_contact_name,
            "host_name": host_name or "",
            "internship_title": internship.title,
            "note": internship.review_note if reason == "returned" else "",
            "closing_date": format_date(internship.closing_date),
            "manage_url": manage_url(signer, internship, base_url),
            "page_url": f"{base}/internships/{internship.slug}",
            "days": MANAGE_DAYS,
        },
    )
    internship.manage_link_sent_at = now
    session.flush()
    return True


def manage_internship(session: Session, signer: Any, internship_id: int, token: str) -> m.Internship:
    """The listing a manage link opens. Raises ``TokenError`` (``expired`` set for an old link; a tampered link,
    a link for another listing or one replaced by a newer link are invalid) or ``NotFound`` (deleted)."""
    payload = signer.verify(MANAGE_PURPOSE, token)
    if not isinstance(payload, dict) or payload.get("i") != internship_id:
        raise TokenError(INVALID)
    internship = session.get(m.Internship, internship_id)
    if internship is None:
        raise NotFound("This listing has been deleted.")
    key = str(payload.get("k", ""))
    if not internship.manage_key or not hmac.compare_digest(key.encode(), internship.manage_key.encode()):
        raise TokenError("This link has been replaced by a newer one. Use the link in the most recent email.")
    return internship


def _refuse_closed(internship: m.Internship) -> None:
    if internship.status not in EDITABLE:
        raise TransitionError(CLOSED_MESSAGE)


def host_update(session: Session, internship: m.Internship, data: InternshipData, *, now: dt.datetime) -> bool:
    """The host's edit; False when nothing changed. A change goes back to the fellow for approval (hidden from the
    public until then, like an editor's change to a live listing; the caller tells the fellow)."""
    _refuse_closed(internship)
    before = services._snapshot(current_data(session, internship), internship.status.value)
    if data.title != internship.title and internship.status in (Status.DRAFT, Status.SUBMITTED):
        internship.slug = services._unique_slug(session, data.title, exclude_id=internship.id)
    services._apply(session, internship, data)
    if not audit.diff(before, services._snapshot(data, internship.status.value)):
        return False
    if internship.status != Status.SUBMITTED:
        internship.status = Status.SUBMITTED
        internship.submitted_at = now
    changes = audit.diff(before, services._snapshot(data, internship.status.value))
    audit.record(session, HOST, "update", "internship", internship.id, summary=internship.title, changes=changes)
    return True


def host_close(session: Session, internship: m.Internship, action: str, *, now: dt.datetime) -> m.Internship:
    """Close the listing, or mark it filled (its page stays and says so; registrations stop)."""
    if action not in {"close", "filled"}:
        raise TransitionError("Unknown action.")
    if internship.status == Status.FILLED or (action == "close" and internship.status == Status.CLOSED):
        return internship  # already done: a second click changes nothing
    return services.transition(session, None, internship, action, now=now, by=HOST)


def host_extend(session: Session, internship: m.Internship, raw: Mapping[str, Any], *, now: dt.datetime) -> dt.date:
    """A later closing date, without a new review (nothing people read has changed). Refused for a closed listing."""
    _refuse_closed(internship)
    value = _text(raw.get("closing_date"))
    try:
        closing = dt.date.fromisoformat(value) if value else None
    except ValueError:
        closing = None
        if value:
            raise FieldErrors({"closing_date": "Enter the new closing date as a date, like 2027-03-31."}) from None
    today = london_today(now)
    if closing is None:
        raise FieldErrors({"closing_date": "Enter the new closing date."})
    if closing <= internship.closing_date:
        raise FieldErrors(
            {"closing_date": f"Choose a date after the current closing date, {format_date(internship.closing_date)}."}
        )
    if closing < today:
        raise FieldErrors({"closing_date": "The new closing date is in the past. Choose today or a later date."})
    if closing > today + LONGEST_EXTENSION:
        raise FieldErrors({"closing_date": "Choose a date within a year from today."})
    before = internship.closing_date.isoformat()
    internship.closing_date = closing
    internship.closes_at = closes_at_for(closing)
    internship.reminder_sent_at = None  # a new closing date deserves a new reminder
    audit.record(
        session,
        HOST,
        "extend",
        "internship",
        internship.id,
        summary=internship.title,
        changes={"closing_date": [before, closing.isoformat()]},
    )
    session.flush()
    return closing


def host_waiting_review(session: Session, internship: m.Internship) -> bool:
    """Whether the listing's organisation is a new one waiting in the directory's review (a host's first post)."""
    status = session.scalar(
        select(m.Organisation.review_status).where(m.Organisation.id == internship.host_organisation_id)
    )
    return status == m.ReviewStatus.SUBMITTED
