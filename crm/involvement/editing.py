"""THE one validation and writing of an involvement opportunity, used by the admin pages, the public offer form and
the API, so a closing date in the past or "abc" as a payment gets the same message wherever it is typed.

The field names are the form's and the API's: the model's column names, plus ``payment_amount`` (pounds as typed,
"12.50") for ``payment_pence`` and ``topic_ids`` (a list of ids). Booleans accept a ticked checkbox ("1", "on",
"true", "yes") or JSON true/false. Who may call these (the fellow, an academic editor, a public poster through their
link) is decided by the callers (``crm.involvement.access``); nothing here checks permissions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.accounts.principal import Principal
from crm.directory.reference import free_slug, slugify
from crm.errors import FieldErrors
from crm.involvement.rules import RESERVED_SLUGS, closes_at_for, money_input, parse_money, payment_label
from crm.models.base import utcnow
from crm.validation import normalise_email, record_id

O = m.InvolvementOpportunity  # noqa: E741 - short alias
Status = m.OpportunityStatus
links = m.involvement_opportunity_topics
FURTHEST_CLOSING = dt.timedelta(days=3 * 366)  # further is a typo (and 9999-12-31 has no end of day to close at)


@dataclasses.dataclass(slots=True)
class OpportunityInput:
    """A checked opportunity, ready to write (``create`` / ``update``)."""

    title: str = ""
    kind: m.InvolvementKind = m.InvolvementKind.ADVISORY_GROUP
    organisation_id: int | None = None
    summary: str = ""
    lived_experience_sought: str = ""
    what_you_will_do: str = ""
    region_id: int | None = None
    online: bool = False
    paid: bool = False
    payment_pence: int | None = None
    payment_basis: m.PaymentBasis | None = None
    expenses_covered: bool = True
    payment_note: str = ""
    commitment: m.Commitment = m.Commitment.ONE_OFF
    time_commitment: str = ""
    accessibility_support: str = ""
    how_to_express_interest: str = ""
    closing_date: dt.date | None = None
    contact_name: str = ""
    contact_email: str = ""
    topic_ids: list[int] = dataclasses.field(default_factory=list)


FIELDS = [f.name for f in dataclasses.fields(OpportunityInput)]
# Plain-text fields: (name, most characters, single line?, required message or "").
_TEXTS: tuple[tuple[str, int, bool, str], ...] = (
    ("title", 200, True, "Enter a title, like “Join our advisory group on crisis care”."),
    ("summary", 500, False, ""),
    ("lived_experience_sought", 5000, False, "Say what lived experience you are looking for."),
    ("what_you_will_do", 5000, False, "Say what the person will do."),
    ("payment_note", 500, False, ""),
    ("time_commitment", 200, True, ""),
    ("accessibility_support", 5000, False, ""),
    ("how_to_express_interest", 5000, False, ""),
    ("contact_name", 200, True, ""),
)


def _text(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, list | tuple):
        raw = raw[-1] if raw else ""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return str(raw).replace("\r\n", "\n").strip()


def _bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    return _text(raw).lower() in {"1", "on", "true", "yes"}


def _ids(raw: Any) -> list[str]:
    if raw is None or raw == "":
        return []
    values = raw if isinstance(raw, list | tuple) else [raw]
    return [str(v).strip() for v in values if str(v).strip()]


def _exists(session: Session, model: Any, value: str) -> int | None:
    """The id a menu sent when a ``model`` row has it; None for a stale or forged choice."""
    chosen = record_id(value)
    return chosen if chosen is not None and session.get(model, chosen) is not None else None


def validate(
    session: Session,
    form: Mapping[str, Any],
    *,
    today: dt.date,
    existing: m.InvolvementOpportunity | None = None,
    partial: bool = False,
) -> tuple[OpportunityInput | None, dict[str, str]]:
    """Check a submitted opportunity: ``(data, {})`` when good, ``(None, {field: message})`` otherwise.

    ``today`` is the London date (``rules.london_today(now)``): a closing date before it is refused, except an
    unchanged one when editing (so an old opportunity can still be corrected). ``partial`` (API PATCH) keeps
    ``existing``'s value for every absent field. Nothing is written.
    """
    errors: dict[str, str] = {}
    data = current_input(session, existing) if existing is not None else OpportunityInput()

    def given(name: str) -> bool:
        return not partial or name in form

    for name, limit, single, required in _TEXTS:
        if not given(name):
            continue
        value = _text(form.get(name))
        if required and not value:
            errors[name] = required
        elif len(value) > limit:
            errors[name] = f"Keep this to {limit:,} characters (it has {len(value):,})."
        elif single and ("\n" in value or "\r" in value):
            errors[name] = "Use a single line."
        setattr(data, name, value)

    if given("kind"):
        value = _text(form.get("kind"))
        if value in m.InvolvementKind.__members__.values():
            data.kind = m.InvolvementKind(value)
        else:
            errors["kind"] = "Choose what kind of involvement this is."
    if given("commitment"):
        value = _text(form.get("commitment")) or m.Commitment.ONE_OFF.value
        if value in m.Commitment.__members__.values():
            data.commitment = m.Commitment(value)
        else:
            errors["commitment"] = "Choose how much time it asks for."
    if given("organisation_id"):
        value = _text(form.get("organisation_id"))
        data.organisation_id = _exists(session, m.Organisation, value)
        if value and data.organisation_id is None:
            errors["organisation_id"] = "Choose an organisation from the list."
    if given("region_id"):
        value = _text(form.get("region_id"))
        data.region_id = _exists(session, m.Region, value)
        if value and data.region_id is None:
            errors["region_id"] = "Choose a region from the list."
    if given("online"):
        data.online = _bool(form.get("online"))
    if data.region_id is None and not data.online and "region_id" not in errors:
        errors["region_id"] = "Choose the region where it happens, or say it can be done online."
    if given("topic_ids"):
        values = _ids(form.get("topic_ids"))
        ids = sorted({i for i in map(record_id, values) if i is not None})
        known = set(session.scalars(select(m.Topic.id).where(m.Topic.id.in_(ids)))) if ids else set()
        if len(ids) != len(set(values)) or known != set(ids):
            errors["topic_ids"] = "Choose topics from the list."
        data.topic_ids = sorted(known)

    _validate_payment(form, data, errors, given)

    if given("closing_date"):
        value = _text(form.get("closing_date"))
        closing: dt.date | None = None
        if not value:
            errors["closing_date"] = "Enter a closing date."
        else:
            try:
                closing = dt.date.fromisoformat(value)
            except ValueError:
                errors["closing_date"] = "Enter the closing date as a date, like 2027-03-31."
        if closing is not None and closing < today and (existing is None or closing != existing.closing_date):
            errors["closing_date"] = "The closing date is in the past. Choose today or a later date."
        elif closing is not None and closing > today + FURTHEST_CLOSING:
            errors["closing_date"] = "The closing date is more than three years away. Check the year."
        data.closing_date = closing
    elif data.closing_date is None:
        errors["closing_date"] = "Enter a closing date."
    if given("contact_email"):
        value = _text(form.get("contact_email"))
        data.contact_email = value
        if not value:
            errors["contact_email"] = "Enter the email address that should hear when someone is interested."
        else:
            try:
                data.contact_email = normalise_email(value)
            except ValueError as exc:
                errors["contact_email"] = str(exc)
    return (None, errors) if errors else (data, {})


def _validate_payment(form: Mapping[str, Any], data: OpportunityInput, errors: dict[str, str], given: Any) -> None:
    """Paid needs an amount that is money and a basis; expenses only clears both (nothing stale is kept)."""
    if given("paid"):
        data.paid = _bool(form.get("paid"))
    if given("expenses_covered"):
        data.expenses_covered = _bool(form.get("expenses_covered"))
    if not data.paid:
        data.payment_pence = None
        data.payment_basis = None
        return
    if given("payment_amount") or given("paid"):
        amount = _text(form.get("payment_amount")) if "payment_amount" in form else ""
        if amount:
            try:
                data.payment_pence = parse_money(amount)
            except ValueError as exc:
                errors["payment_amount"] = str(exc)
        elif "payment_amount" in form or data.payment_pence is None:  # a PATCH leaving it out keeps the stored one
            errors["payment_amount"] = "Enter how much the role pays, in pounds, like 25 or 12.50."
    if given("payment_basis") or given("paid"):
        basis = _text(form.get("payment_basis")) if "payment_basis" in form else ""
        if basis in m.PaymentBasis.__members__.values():
            data.payment_basis = m.PaymentBasis(basis)
        elif basis or data.payment_basis is None:
            errors["payment_basis"] = "Say whether the payment is per hour, per meeting, per day or in total."


def current_input(session: Session, opp: m.InvolvementOpportunity) -> OpportunityInput:
    """A stored opportunity read back as input (the start of a partial update, or an edit form's values)."""
    data = OpportunityInput(**{name: getattr(opp, name) for name in FIELDS if name != "topic_ids"})
    data.topic_ids = topic_ids_of(session, opp.id) if opp.id else []
    return data


def form_values(data: OpportunityInput) -> dict[str, Any]:
    """What an edit form shows for checked or stored data, under the names the form posts."""
    values: dict[str, Any] = dataclasses.asdict(data)
    values["kind"] = data.kind.value
    values["commitment"] = data.commitment.value
    values["payment_basis"] = data.payment_basis.value if data.payment_basis else ""
    values["payment_amount"] = money_input(data.payment_pence)
    values["closing_date"] = data.closing_date.isoformat() if data.closing_date else ""
    for key in ("paid", "online", "expenses_covered"):
        values[key] = "1" if getattr(data, key) else ""
    for key in ("organisation_id", "region_id"):
        values[key] = "" if values[key] is None else str(values[key])
    values["topic_ids"] = [str(t) for t in data.topic_ids]
    return values


def topic_ids_of(session: Session, opportunity_id: int) -> list[int]:
    return sorted(session.scalars(select(links.c.topic_id).where(links.c.opportunity_id == opportunity_id)))


def unique_slug(session: Session, title: str, exclude_id: int | None = None) -> str:
    """A slug from the title, never one of the section's own pages, "-2", "-3" ... when taken."""
    base = slugify(title, max_length=200)
    if base in RESERVED_SLUGS:
        base = f"{base}-opportunity"

    def taken(slug: str) -> bool:
        query = select(O.id).where(O.slug == slug)
        if exclude_id is not None:
            query = query.where(O.id != exclude_id)
        return session.scalar(query) is not None

    return free_slug(base, taken)


# What the audit trail keeps of an opportunity: its own field names, except the kind, the money and the topics, which
# are kept as people read them (crm.history renders the rest: linked ids by name, booleans as yes/no, dates).
_BLANK = (None, "", [])  # left out of a new opportunity's entry: "Summary: set to –" says nothing
_NOT_AUDITED = {"kind", "payment_pence", "payment_basis", "topic_ids", "contact_name", "contact_email"}


def _snapshot(session: Session, data: OpportunityInput, status: str) -> dict[str, Any]:
    """The opportunity as its history reads it: "Organisation: set to Mind", "Expenses covered: yes → no",
    "Payment: £12.50 per hour → £15 per hour" (one money line, not pence beside the typed pounds)."""
    snap: dict[str, Any] = {name: getattr(data, name) for name in FIELDS if name not in _NOT_AUDITED}
    snap["type_of_involvement"] = data.kind.label  # not "kind": history splits a stored kind's hyphens
    snap["commitment"] = data.commitment.label
    snap["closing_date"] = data.closing_date.isoformat() if data.closing_date else None
    snap["payment"] = payment_label(data.payment_pence, data.payment_basis) if data.paid else ""
    topics = select(m.Topic.name).where(m.Topic.id.in_(data.topic_ids)).order_by(m.Topic.name)
    snap["topics"] = list(session.scalars(topics)) if data.topic_ids else []
    snap["status"] = status
    # The contact is personal data: the audit trail says it changed, not what it was.
    snap["contact_email"] = "(set)" if data.contact_email else ""
    snap["contact_name"] = "(set)" if data.contact_name else ""
    return snap


def _apply(session: Session, opp: m.InvolvementOpportunity, data: OpportunityInput) -> None:
    assert data.closing_date is not None
    for name in FIELDS:
        if name != "topic_ids":
            setattr(opp, name, getattr(data, name))
    if not data.paid:
        opp.payment_pence = None
        opp.payment_basis = None
    opp.closes_at = closes_at_for(data.closing_date)
    session.flush()
    session.execute(delete(links).where(links.c.opportunity_id == opp.id))
    if data.topic_ids:
        session.execute(insert(links), [{"opportunity_id": opp.id, "topic_id": t} for t in data.topic_ids])


def create(
    session: Session,
    data: OpportunityInput,
    *,
    status: m.OpportunityStatus,
    user_id: int | None = None,
    public_posted: bool = False,
    now: dt.datetime | None = None,
    actor: Principal | None = None,
) -> m.InvolvementOpportunity:
    """Write a new opportunity in ``status`` (draft, submitted for approval, or published straight away)."""
    now = now or utcnow()
    assert data.closing_date is not None
    opp = O(
        title=data.title,
        slug=unique_slug(session, data.title),
        kind=data.kind,
        closing_date=data.closing_date,
        closes_at=closes_at_for(data.closing_date),
        status=status,
        created_by_user_id=user_id,
        public_posted=public_posted,
    )
    if status == Status.SUBMITTED:
        opp.submitted_at = now
    elif status == Status.PUBLISHED:
        opp.published_at = now
    session.add(opp)
    session.flush()
    _apply(session, opp, data)
    audit.record(
        session,
        actor,
        "create",
        "involvement_opportunity",
        opp.id,
        summary=f"{opp.title} ({status.value})",
        changes=audit.diff({}, {k: v for k, v in _snapshot(session, data, status.value).items() if v not in _BLANK}),
    )
    return opp


def update(
    session: Session, opp: m.InvolvementOpportunity, data: OpportunityInput, *, actor: Principal | None = None
) -> None:
    """Write checked changes. The slug follows the title only until it is published (public links stay put)."""
    before = _snapshot(session, current_input(session, opp), opp.status.value)
    if data.title != opp.title and opp.status in (Status.DRAFT, Status.SUBMITTED) and opp.published_at is None:
        opp.slug = unique_slug(session, data.title, exclude_id=opp.id)
    _apply(session, opp, data)
    audit.record_changes(
        session,
        actor,
        "involvement_opportunity",
        opp.id,
        before,
        _snapshot(session, data, opp.status.value),
        summary=opp.title,
        action="update",
    )


def publish(
    session: Session, opp: m.InvolvementOpportunity, now: dt.datetime, *, actor: Principal | None = None
) -> None:
    """Make it public. Refused (``FieldErrors`` on ``closing_date``) when its closing date has passed."""
    if opp.closes_at <= now:
        raise FieldErrors({"closing_date": "The closing date has passed. Choose a later closing date, then publish."})
    before = opp.status.value
    opp.status = Status.PUBLISHED
    opp.published_at = opp.published_at or now
    opp.closed_at = None
    audit.record(
        session,
        actor,
        "publish",
        "involvement_opportunity",
        opp.id,
        summary=opp.title,
        changes={"status": [before, opp.status.value]},
    )


def close(session: Session, opp: m.InvolvementOpportunity, now: dt.datetime, *, actor: Principal | None = None) -> None:
    """Stop taking interest now. Its page stays and says it is closed; what people sent is kept."""
    if opp.status == Status.CLOSED:
        return
    before = opp.status.value
    opp.status = Status.CLOSED
    opp.closed_at = now
    audit.record(
        session,
        actor,
        "close",
        "involvement_opportunity",
        opp.id,
        summary=opp.title,
        changes={"status": [before, opp.status.value]},
    )
