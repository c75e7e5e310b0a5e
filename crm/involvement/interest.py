"""Expressions of interest in an involvement opportunity: personal (special-category) data, seen only by the fellow
and the opportunity's poster.

One row per (opportunity, email). Saying it twice is not an error and loses nothing: the first row stays (its status,
its consent), new text in the note or access needs replaces the old, and the person is told "you already told us".
The poster hears of a new one through the outbox by the person's name only; the details are behind the admin page
when their account may see it, else behind their private manage link (``crm.involvement.posting``). The person gets a
receipt. Network members who say yes from an alert or an invitation
come through here too (``member_id``, ``source``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.principal import Principal
from crm.errors import FieldErrors
from crm.involvement import access
from crm.involvement.posting import manage_url
from crm.involvement.rules import INTEREST_CONSENT_WORDING, is_open
from crm.mailing.outbox import enqueue
from crm.mailing.render import EmailRenderer
from crm.timefmt import format_date
from crm.validation import normalise_email

Interest = m.InvolvementInterest
CLOSED = "This opportunity has closed, so it is no longer taking expressions of interest."
SOURCES = ("interest", "invited")


class OpportunityClosed(ValueError):
    """Interest in an opportunity that is not open (closed, past its closing date, or never published)."""

    def __init__(self) -> None:
        super().__init__(CLOSED)


@dataclasses.dataclass(frozen=True, slots=True)
class InterestForm:
    name: str
    email: str
    note: str
    access_needs: str


def _text(raw: Any) -> str:
    if isinstance(raw, list | tuple):
        raw = raw[-1] if raw else ""
    return "" if raw is None else str(raw).replace("\r\n", "\n").strip()


def validate_interest(form: Mapping[str, Any]) -> tuple[InterestForm | None, dict[str, str]]:
    """The public form's checks: ``(values, {})``, or ``(None, {field: message})`` for every bad field at once."""
    errors: dict[str, str] = {}
    name = _text(form.get("name"))
    if not name:
        errors["name"] = "Enter your name."
    elif len(name) > 200 or "\n" in name or "\r" in name:
        errors["name"] = "Use a single line of at most 200 characters for your name."
    email = _text(form.get("email"))
    try:
        email = normalise_email(email)
    except ValueError as exc:
        errors["email"] = str(exc)
    note = _text(form.get("note"))
    if len(note) > 2000:
        errors["note"] = f"Keep this to 2,000 characters (it has {len(note):,})."
    access_needs = _text(form.get("access_needs"))
    if len(access_needs) > 2000:
        errors["access_needs"] = f"Keep this to 2,000 characters (it has {len(access_needs):,})."
    if _text(form.get("consent")).lower() not in {"1", "on", "true", "yes"}:
        errors["consent"] = (
            "Tick the box to agree that we pass your details to the people offering this. "
            "We cannot send your interest without it."
        )
    if errors:
        return None, errors
    return InterestForm(name=name, email=email, note=note, access_needs=access_needs), {}


def _insert_ignore(session: Session) -> Any:
    table = Interest.__table__
    elements = ["opportunity_id", "email"]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=elements)
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=elements)
    return insert(table)


def record_interest(
    session: Session,
    opp: m.InvolvementOpportunity,
    *,
    name: str,
    email: str,
    note: str,
    access_needs: str,
    consent_wording: str = INTEREST_CONSENT_WORDING,
    member_id: int | None = None,
    source: str = "interest",
    renderer: EmailRenderer,
    signer: Any,
    now: dt.datetime,
) -> tuple[m.InvolvementInterest, bool]:
    """Record that ``email`` is interested; ``(interest, created)``. ``created`` False: they had already told us.

    Raises ``OpportunityClosed`` when it is not open, ``FieldErrors`` for an address that is not one. ``signer`` makes
    the poster's private manage link when they have no account that sees the opportunity.
    """
    if not is_open(opp.status, opp.closes_at, now):
        raise OpportunityClosed()
    try:
        email = normalise_email(email)
    except ValueError as exc:
        raise FieldErrors({"email": str(exc)}) from exc
    if source not in SOURCES:
        raise ValueError(f"Unknown source {source!r}.")
    new_id = session.execute(
        _insert_ignore(session)
        .values(
            opportunity_id=opp.id,
            member_id=member_id,
            name=name,
            email=email,
            note=note,
            access_needs=access_needs,
            consent_wording=consent_wording,
            consented_at=now,
            created_at=now,
            source=source,
            status=m.InvolvementInterestStatus.NEW,
        )
        .returning(Interest.id)
    ).scalar()
    if member_id is not None:
        session.execute(update(m.NetworkMember).where(m.NetworkMember.id == member_id).values(last_involved_at=now))
    if new_id is None:
        return _again(session, opp, email, note=note, access_needs=access_needs, member_id=member_id), False
    interest = session.get(Interest, new_id)
    assert interest is not None
    _tell(session, renderer, signer, opp, interest)
    return interest, True


def _again(
    session: Session, opp: m.InvolvementOpportunity, email: str, *, note: str, access_needs: str, member_id: int | None
) -> m.InvolvementInterest:
    """The first expression stays; new words replace old ones (never blanked by an empty field)."""
    interest = session.scalars(select(Interest).where(Interest.opportunity_id == opp.id, Interest.email == email)).one()
    if note and note != interest.note:
        interest.note = note
    if access_needs and access_needs != interest.access_needs:
        interest.access_needs = access_needs
    if member_id is not None and interest.member_id is None:
        interest.member_id = member_id
    session.flush()
    return interest


def _contact_signs_in(session: Session, opp: m.InvolvementOpportunity) -> bool:
    """Whether the opportunity's contact has an account that sees its interest on the admin page; anyone else (a
    public poster, a researcher the fellow posted for) gets the private manage link instead of a sign-in they lack."""
    user = session.scalar(select(m.User).where(m.User.email == opp.contact_email, m.User.is_active.is_(True)))
    if user is None:
        return False
    actor = Principal(
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        organisation_id=user.organisation_id,
        via="session",
    )
    return access.can_post(session, actor) and access.owns(
        actor, created_by_user_id=opp.created_by_user_id, organisation_id=opp.organisation_id
    )


def _tell(
    session: Session, renderer: EmailRenderer, signer: Any, opp: m.InvolvementOpportunity, interest: Interest
) -> None:
    """The poster: a name and where to see the rest. The person: a receipt saying who now has their details."""
    base = renderer.settings.base_url.rstrip("/")
    if opp.contact_email:
        signs_in = _contact_signs_in(session, opp)
        link = f"{base}/admin/involvement/{opp.id}" if signs_in else manage_url(signer, opp, base)
        enqueue(
            session,
            renderer,
            key=f"involvement:interest:{opp.id}:{interest.id}",
            kind="involvement_interest",
            template="involvement/interest",
            to=opp.contact_email,
            to_name=opp.contact_name,
            context={
                "contact_name": opp.contact_name,
                "name": interest.name,
                "title": opp.title,
                "link": link,
                "private_link": not signs_in,
                "invited": interest.source == "invited",
            },
        )
    enqueue(
        session,
        renderer,
        key=f"involvement:interest-receipt:{opp.id}:{interest.id}",
        kind="involvement_interest_receipt",
        template="involvement/interest_receipt",
        to=interest.email,
        to_name=interest.name,
        context={
            "name": interest.name,
            "title": opp.title,
            "url": f"{base}/involvement/{opp.slug}",
            "closing_date": format_date(opp.closing_date),
            "note": interest.note,
            "access_needs": bool(interest.access_needs),
        },
    )
