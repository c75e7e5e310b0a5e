"""Funding-call rules: validation, create/update/publish/close, deadline bookkeeping and the close job.

Reads (lists, the call page, the funder's open calls) are in ``crm.funding.queries``; the amount and the time
left in words in ``crm.funding.labels``. Services never commit (the web request, the CLI or the job does).
Times are UTC in the database; forms enter and pages show Europe/London (``crm.timefmt``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.principal import Principal
from crm.audit import diff, record
from crm.db import batched
from crm.directory.reference import free_slug, slugify
from crm.directory.taxonomy import linked_names, set_links
from crm.errors import FieldErrors
from crm.funding.fit import ANSWERS
from crm.timefmt import LONDON

MAX_AMOUNT = 2_000_000_000
ENTITY = "funding_call"


class CallError(FieldErrors):
    """Bad input for a call: ``errors`` maps a field name to a message people can act on."""


@dataclasses.dataclass
class DeadlineInput:
    label: str
    due_at: dt.datetime  # aware


@dataclasses.dataclass
class CallInput:
    title: str
    funder_id: int | None
    url: str = ""
    summary: str = ""
    eligibility: str = ""
    opens_at: dt.datetime | None = None
    deadlines: list[DeadlineInput] = dataclasses.field(default_factory=list)
    amount_min: int | None = None
    amount_max: int | None = None
    topic_ids: list[int] = dataclasses.field(default_factory=list)
    region_ids: list[int] = dataclasses.field(default_factory=list)
    requires_vcse_partner: bool = False
    vcse_can_be_co_lead: bool = False
    lead_must_be_academic: bool = False
    lead_must_be_vcse: bool = False
    external_ref: str | None = None
    # Whom the call suits (crm.funding.fit): stored values or None, and yes / no / None (not stated).
    funding_type: str | None = None
    application_effort: str | None = None
    open_to_unregistered: bool | None = None
    open_to_user_led: bool | None = None
    match_funding_required: bool | None = None
    lived_experience_payment: bool | None = None


def normalise_title(title: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", title.lower()).split())[:300]


def london_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=LONDON).astimezone(dt.UTC)


def parse_local_datetime(raw: str) -> dt.datetime:
    """``2026-12-31T17:00`` / ``2026-12-31 17:00`` / ``2026-12-31`` in Europe/London → aware UTC.

    A date alone means the end of that day in London (23:59), the usual reading of "closes on 31 December".
    An explicit offset or ``Z`` is honoured.
    """
    raw = raw.strip().replace(" ", "T", 1)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        day = dt.date.fromisoformat(raw)
        return dt.datetime.combine(day, dt.time(23, 59), tzinfo=LONDON).astimezone(dt.UTC)
    value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=LONDON)
    return value.astimezone(dt.UTC)


# --- validation ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class CallLookups:
    """What ``validate_call`` needs from the database, read once for many calls.

    A CSV import checks every row of a file; reading the funder, the reference clash and the topic and region ids
    for each row cost four statements a row. The import passes one of these built from what it has read once per
    file (``crm.funding.importer``), so its check costs the same at 10 rows as at 100; a single form or API call
    passes none and ``load`` reads what that one call names. The rules stay in ``validate_call`` alone.

    ``funder_ids``, ``topic_ids`` and ``region_ids`` hold the ids that exist (at least those the calls name);
    ``refs`` maps an external reference in use to the call that holds it (at least the references named).
    """

    funder_ids: Collection[int]
    refs: Mapping[str, int]
    topic_ids: Collection[int]
    region_ids: Collection[int]

    @classmethod
    def load(cls, session: Session, calls: Iterable[CallInput]) -> CallLookups:
        """Read what ``calls`` name: one statement for each kind of thing named (none when nothing is)."""
        calls = list(calls)
        refs = sorted({c.external_ref for c in calls if c.external_ref})
        found: dict[str, int] = {}
        for chunk in batched(refs):
            rows = session.execute(
                select(m.FundingCall.external_ref, m.FundingCall.id).where(m.FundingCall.external_ref.in_(chunk))
            )
            found.update((ref, call_id) for ref, call_id in rows)
        return cls(
            funder_ids=_existing(session, m.Organisation.id, {c.funder_id for c in calls if c.funder_id is not None}),
            refs=found,
            topic_ids=_existing(session, m.Topic.id, {t for c in calls for t in c.topic_ids}),
            region_ids=_existing(session, m.Region.id, {r for c in calls for r in c.region_ids}),
        )


def _existing(session: Session, column: Any, ids: set[int]) -> set[int]:
    """Those of ``ids`` that are rows of ``column``'s table (no statement when ``ids`` is empty)."""
    found: set[int] = set()
    for chunk in batched(sorted(ids)):
        found.update(session.scalars(select(column).where(column.in_(chunk))))
    return found


def validate_call(
    session: Session,
    data: CallInput,
    *,
    is_new: bool,
    now: dt.datetime,
    call_id: int | None = None,
    lookups: CallLookups | None = None,
) -> dict[str, str]:
    """Field → message for everything wrong with ``data`` (empty when it can be saved).

    ``lookups``: what was read once for many calls (an import's rows); without it, what this call names is read.
    """
    if lookups is None:
        lookups = CallLookups.load(session, [data])
    errors: dict[str, str] = {}
    if not data.title.strip():
        errors["title"] = "Enter the call's title."
    elif len(data.title) > 300:
        errors["title"] = "The title must be at most 300 characters."
    if data.funder_id is None:
        errors["funder_id"] = "Choose the funder."
    elif data.funder_id not in lookups.funder_ids:
        errors["funder_id"] = "Choose a funder from the directory."
    if data.url and not re.match(r"^https?://[^\s]+$", data.url):
        errors["url"] = "Enter a web address starting with https:// or http://."
    if not data.deadlines:
        errors["deadlines"] = "Add at least one deadline."
    elif is_new and any(d.due_at <= now for d in data.deadlines):
        errors["deadlines"] = "A new call cannot have a deadline in the past. Check the dates (times are UK time)."
    elif any(len(d.label) > 120 for d in data.deadlines):
        errors["deadlines"] = "Deadline labels must be at most 120 characters."
    for name in ("amount_min", "amount_max"):
        value = getattr(data, name)
        if value is not None and not 0 <= value <= MAX_AMOUNT:
            errors[name] = "Enter an amount in pounds between 0 and 2,000,000,000."
    if (
        data.amount_min is not None
        and data.amount_max is not None
        and "amount_min" not in errors
        and data.amount_min > data.amount_max
    ):
        errors["amount_max"] = "The maximum amount must be at least the minimum amount."
    if data.opens_at and data.deadlines and data.opens_at > max(d.due_at for d in data.deadlines):
        errors["opens_at"] = "The opening date must be before the last deadline."
    if data.lead_must_be_academic and data.lead_must_be_vcse:
        errors["lead_must_be_vcse"] = "The lead cannot have to be both an academic institution and a VCSE."
    if data.funding_type is not None and data.funding_type not in {t.value for t in m.FundingType}:
        errors["funding_type"] = "Choose a type of funding from the list (or leave it as not stated)."
    if data.application_effort is not None and data.application_effort not in {e.value for e in m.ApplicationEffort}:
        errors["application_effort"] = "Choose light, standard or heavy (or leave it as not stated)."
    if data.external_ref:
        if len(data.external_ref) > 200:
            errors["external_ref"] = "The external reference must be at most 200 characters."
        else:
            clash = lookups.refs.get(data.external_ref)
            if clash is not None and clash != call_id:
                errors["external_ref"] = "Another call already has this external reference."
    for field, known, what in (
        ("topic_ids", lookups.topic_ids, "topics"),
        ("region_ids", lookups.region_ids, "regions"),
    ):
        if any(i not in known for i in getattr(data, field)):
            errors[field] = f"Choose {what} from the list."
    return errors


# --- deadlines ----------------------------------------------------------------------------------------------


def deadline_bounds(due: list[dt.datetime], now: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(next, last): the earliest deadline after ``now`` (or the last one when all passed), and the last."""
    if not due:
        return None, None
    ordered = sorted(due)
    upcoming = [d for d in ordered if d > now]
    return (upcoming[0] if upcoming else ordered[-1]), ordered[-1]


def _sync_deadline_columns(call: m.FundingCall, due: list[dt.datetime], now: dt.datetime) -> None:
    call.next_deadline_at, call.last_deadline_at = deadline_bounds(due, now)


# --- writes -------------------------------------------------------------------------------------------------


def _unique_slug(session: Session, title: str, call_id: int | None = None) -> str:
    base = slugify(title, 300)
    taken = set(
        session.scalars(
            select(m.FundingCall.slug).where(
                or_(m.FundingCall.slug == base, m.FundingCall.slug.like(f"{base}-%")),
                m.FundingCall.id != (call_id or 0),
            )
        )
    )
    return free_slug(base, taken.__contains__)


def snapshot(session: Session, call: m.FundingCall) -> dict[str, Any]:
    """The audited fields of a call, including deadlines, topics and regions (plain values)."""
    topics = linked_names(session, m.funding_call_topics.c.call_id, call.id, m.Topic.name) if call.id else []
    regions = linked_names(session, m.funding_call_regions.c.call_id, call.id, m.Region.position) if call.id else []
    deadlines = (
        [
            f"{label}: {due.astimezone(LONDON):%Y-%m-%d %H:%M}"
            for label, due in session.execute(
                select(m.FundingCallDeadline.label, m.FundingCallDeadline.due_at)
                .where(m.FundingCallDeadline.call_id == call.id)
                .order_by(m.FundingCallDeadline.due_at)
            )
        ]
        if call.id
        else []
    )
    return {
        "title": call.title,
        "funder_id": call.funder_id,
        "url": call.url,
        "summary": call.summary,
        "eligibility": call.eligibility,
        "opens_at": call.opens_at.isoformat() if call.opens_at else None,
        "deadlines": deadlines,
        "amount_min": call.amount_min,
        "amount_max": call.amount_max,
        "topics": topics,
        "regions": regions,
        "requires_vcse_partner": call.requires_vcse_partner,
        "vcse_can_be_co_lead": call.vcse_can_be_co_lead,
        "lead_must_be_academic": call.lead_must_be_academic,
        "lead_must_be_vcse": call.lead_must_be_vcse,
        "status": call.status.value if call.status else None,
        "external_ref": call.external_ref,
        "funding_type": call.funding_type.value if call.funding_type else None,
        "application_effort": call.application_effort.value if call.application_effort else None,
        **{name: getattr(call, name) for name in ANSWERS},
    }


def _apply(session: Session, call: m.FundingCall, data: CallInput, now: dt.datetime) -> None:
    funder_name = session.scalar(select(m.Organisation.name).where(m.Organisation.id == data.funder_id)) or ""
    call.title = data.title.strip()
    call.title_normalised = normalise_title(call.title)
    call.funder_id = data.funder_id  # type: ignore[assignment]
    call.url = data.url.strip()
    call.summary = data.summary.strip()
    call.eligibility = data.eligibility.strip()
    call.search_text = " ".join([call.title, funder_name, call.summary, call.eligibility]).lower()
    call.opens_at = data.opens_at
    call.amount_min = data.amount_min
    call.amount_max = data.amount_max
    call.requires_vcse_partner = data.requires_vcse_partner
    call.vcse_can_be_co_lead = data.vcse_can_be_co_lead
    call.lead_must_be_academic = data.lead_must_be_academic
    call.lead_must_be_vcse = data.lead_must_be_vcse
    call.external_ref = (data.external_ref or "").strip() or None
    call.funding_type = m.FundingType(data.funding_type) if data.funding_type else None
    call.application_effort = m.ApplicationEffort(data.application_effort) if data.application_effort else None
    for name in ANSWERS:
        setattr(call, name, getattr(data, name))
    _sync_deadline_columns(call, [d.due_at for d in data.deadlines], now)
    if call.id is None:
        call.slug = _unique_slug(session, call.title)
        session.add(call)
        session.flush()
    else:
        session.execute(delete(m.FundingCallDeadline).where(m.FundingCallDeadline.call_id == call.id))
    session.execute(
        insert(m.FundingCallDeadline),
        [{"call_id": call.id, "label": d.label.strip(), "due_at": d.due_at} for d in data.deadlines],
    )
    set_links(session, m.funding_call_topics.c.call_id, call.id, sorted(set(data.topic_ids)))
    set_links(session, m.funding_call_regions.c.call_id, call.id, sorted(set(data.region_ids)))
    session.flush()


def create_call(
    session: Session,
    actor: Principal | None,
    data: CallInput,
    *,
    now: dt.datetime,
    status: m.CallStatus = m.CallStatus.DRAFT,
    source: str = "",
    lookups: CallLookups | None = None,
) -> m.FundingCall:
    """A new call from ``data`` (``CallError`` when it breaks a rule); ``lookups`` as for ``validate_call``."""
    errors = validate_call(session, data, is_new=True, now=now, lookups=lookups)
    if status == m.CallStatus.CLOSED and "deadlines" in errors and data.deadlines:
        errors.pop("deadlines")  # importing a call that has already closed is a record, not a mistake
    if errors:
        raise CallError(errors)
    call = m.FundingCall(status=m.CallStatus.DRAFT)
    _apply(session, call, data, now)
    if status == m.CallStatus.PUBLISHED:
        call.status = m.CallStatus.PUBLISHED
        call.published_at = now
    elif status == m.CallStatus.CLOSED:
        call.status = m.CallStatus.CLOSED
        call.closed_at = now
    session.flush()
    record(
        session,
        actor,
        "created",
        ENTITY,
        call.id,
        summary=f"{call.title}{' (' + source + ')' if source else ''}",
        changes=diff({}, snapshot(session, call)),
    )
    return call


def update_call(
    session: Session,
    actor: Principal | None,
    call: m.FundingCall,
    data: CallInput,
    *,
    now: dt.datetime,
    source: str = "",
    lookups: CallLookups | None = None,
) -> dict[str, Any]:
    """Apply ``data`` to ``call``; returns the audited changes. ``lookups`` as for ``validate_call``."""
    errors = validate_call(session, data, is_new=False, now=now, call_id=call.id, lookups=lookups)
    if errors:
        raise CallError(errors)
    before = snapshot(session, call)
    _apply(session, call, data, now)
    changes = diff(before, snapshot(session, call))
    if changes:
        call.updated_at = now
        record(session, actor, "updated", ENTITY, call.id, summary=source or call.title, changes=changes)
    return changes


def set_status(
    session: Session, actor: Principal | None, call: m.FundingCall, status: m.CallStatus, *, now: dt.datetime
) -> None:
    """draft → published → closed; a closed call can be re-published only if a deadline is still ahead."""
    if status == call.status:
        return
    if status == m.CallStatus.PUBLISHED:
        if call.last_deadline_at is None or call.last_deadline_at <= now:
            raise CallError({"status": "Every deadline of this call has passed; add a future deadline to publish it."})
        call.published_at = call.published_at or now
        call.closed_at = None
    elif status == m.CallStatus.CLOSED:
        call.closed_at = now
    elif status == m.CallStatus.DRAFT and call.status == m.CallStatus.CLOSED:
        call.closed_at = None
    before = call.status.value
    call.status = status
    call.updated_at = now
    record(
        session, actor, status.value, ENTITY, call.id, summary=call.title, changes={"status": [before, status.value]}
    )


def delete_call(session: Session, actor: Principal | None, call: m.FundingCall) -> list[str]:
    """Delete a call unless partnerships refer to it; returns what blocks it (empty list = deleted)."""
    blockers = [
        f"Partnership: {title}"
        for (title,) in session.execute(
            select(m.Partnership.title).where(m.Partnership.funding_call_id == call.id).order_by(m.Partnership.title)
        )
    ]
    if blockers:
        return blockers
    record(session, actor, "deleted", ENTITY, call.id, summary=call.title, changes=diff(snapshot(session, call), {}))
    session.delete(call)
    session.flush()
    return []


def refresh_deadlines_and_close(session: Session, now: dt.datetime) -> dict[str, int]:
    """The scheduled job: move ``next_deadline_at`` past deadlines that have gone, close calls whose last passed.

    Bounded: one UPDATE for closing, one SELECT + one executemany for calls whose next deadline moved on.
    """
    to_close = list(
        session.execute(
            select(m.FundingCall.id, m.FundingCall.title).where(
                m.FundingCall.status == m.CallStatus.PUBLISHED, m.FundingCall.last_deadline_at <= now
            )
        )
    )
    for chunk in batched([r.id for r in to_close]):
        session.execute(
            update(m.FundingCall)
            .where(m.FundingCall.id.in_(chunk))
            .values(status=m.CallStatus.CLOSED, closed_at=now, next_deadline_at=m.FundingCall.last_deadline_at)
            .execution_options(synchronize_session=False)
        )
    if to_close:
        session.add_all(
            m.AuditEntry(
                actor="system",
                action="closed",
                entity=ENTITY,
                entity_id=r.id,
                summary=f"{r.title}: its last deadline passed",
                changes={"status": ["published", "closed"]},
            )
            for r in to_close
        )
    # Calls still open whose stored next deadline is behind us: advance it to the next one still ahead.
    nxt = (
        select(func.min(m.FundingCallDeadline.due_at))
        .where(m.FundingCallDeadline.call_id == m.FundingCall.id, m.FundingCallDeadline.due_at > now)
        .scalar_subquery()
    )
    moved = session.execute(
        update(m.FundingCall)
        .where(
            m.FundingCall.status != m.CallStatus.CLOSED,
            m.FundingCall.next_deadline_at <= now,
            m.FundingCall.last_deadline_at > now,
        )
        .values(next_deadline_at=nxt)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.flush()
    return {"closed": len(to_close), "advanced": moved or 0}
