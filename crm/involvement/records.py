"""The record of involvement: who took part in what, for how long, what they were paid and how they are recognised.

Private to the fellow. A record is one person or group taking part once (a meeting, a commentary, a group session
for a consultation); it may point to the opportunity, consultation request, organisation, partnership and network
member it belongs to, and it is what the organisation page, the partnership page, the timelines, the dashboard and
the impact report count. Hours are typed as people say them ("1.5" or "1:30") and kept in minutes; money as
"£12.50" (the opportunity's one money rule, ``crm.involvement.rules.parse_money``) kept in pence.

A record for a network member moves the member's ``last_involved_at`` forward: the retention job measures a
member's inactivity from it (``crm.privacy.involvement``).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.principal import Principal
from crm.audit import record as audit
from crm.errors import FieldErrors
from crm.involvement.rules import format_pence, london_today, money_input, parse_money
from crm.listing import ListParams, Page, SortOption, Sorts, fetch_page
from crm.validation import Form, record_id

R = m.InvolvementRecord
MAX_MINUTES = 1000 * 60  # one record of more than a thousand hours is a typo
RECOGNITION_OPTIONS = [(r.value, r.label) for r in m.Recognition]
FILTERS = ("recognition", "organisation", "partnership", "opportunity", "member", "consultation", "from", "to")
_HOURS_MINUTES = re.compile(r"(\d{1,4}):([0-5]\d)")
_DECIMAL_HOURS = re.compile(r"\d{1,4}(?:[.,]\d{1,2})?")

SORTS = Sorts(
    SortOption("-date", "Newest first", R.took_part_on, descending=True),
    SortOption("date", "Oldest first", R.took_part_on),
    SortOption("-hours", "Most hours", R.minutes, descending=True),
    SortOption("-payment", "Largest payment", R.payment_pence, descending=True),
)


# --- hours and money as people type them ---------------------------------------------------------------------


def parse_hours(raw: str) -> int:
    """ "1.5", "1,5" or "1:30" → 90 minutes; "" → 0. Raises ValueError with a message people can act on."""
    text = (raw or "").strip().lower().removesuffix("hours").removesuffix("hour").removesuffix("h").strip()
    if not text:
        return 0
    if match := _HOURS_MINUTES.fullmatch(text):
        minutes = int(match[1]) * 60 + int(match[2])
    elif _DECIMAL_HOURS.fullmatch(text):
        minutes = round(float(text.replace(",", ".")) * 60)
    elif text.startswith("-"):
        raise ValueError("Hours cannot be negative.")
    else:
        raise ValueError("Enter hours like 1.5 or 1:30 (one and a half hours).")
    if minutes > MAX_MINUTES:
        raise ValueError("That is more than 1,000 hours. Enter the hours of this one piece of involvement.")
    return minutes


def hours_input(minutes: int) -> str:
    """What the form shows for stored minutes: "1:30" (what people read as hours and minutes)."""
    return "" if not minutes else f"{minutes // 60}:{minutes % 60:02d}"


def hours_label(minutes: int) -> str:
    """ "1 hour 30 minutes" / "2 hours" / "45 minutes" / "–"."""
    if not minutes:
        return "–"
    hours, rest = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours:,} hour{'s' if hours != 1 else ''}")
    if rest:
        parts.append(f"{rest} minute{'s' if rest != 1 else ''}")
    return " ".join(parts)


def parse_pence(raw: str) -> int:
    """Money for a record: empty or nothing paid is £0 (a volunteer's record); otherwise the one money rule."""
    text = (raw or "").replace("£", "").strip()
    if text in {"", "0", "0.0", "0.00"}:
        return 0
    return parse_money(raw)


def money_label(pence: int) -> str:
    return format_pence(pence) if pence else "–"


# --- validation, create, update, delete ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RecordInput:
    activity: str
    took_part_on: dt.date
    person_name: str
    member_id: int | None
    opportunity_id: int | None
    consultation_request_id: int | None
    organisation_id: int | None
    partnership_id: int | None
    minutes: int
    payment_pence: int
    expenses_pence: int
    recognition: m.Recognition
    note: str


_LINKS: dict[str, tuple[type[Any], str]] = {
    "member_id": (m.NetworkMember, "That network member no longer exists. Choose another or none."),
    "opportunity_id": (m.InvolvementOpportunity, "That opportunity no longer exists. Choose another or none."),
    "consultation_request_id": (m.ConsultationRequest, "That consultation no longer exists. Choose another or none."),
    "organisation_id": (m.Organisation, "That organisation no longer exists. Choose another or none."),
    "partnership_id": (m.Partnership, "That partnership no longer exists. Choose another or none."),
}


def validate(session: Session, data: Mapping[str, Any], *, today: dt.date) -> tuple[RecordInput | None, dict[str, str]]:
    """The one check of a record form: every message at once, field by field."""
    form = Form(dict(data))
    activity = form.line("activity", required=True, max_length=300, label="What they did")
    took_part_on = form.date("took_part_on", required=True, label="Date")
    if took_part_on is not None and took_part_on > today:
        form.add_error("took_part_on", "The date cannot be in the future: record involvement once it has happened.")
    person_name = form.line("person_name", max_length=200, label="Name")
    links: dict[str, int | None] = {}
    for name, (model, missing) in _LINKS.items():
        value = record_id(form.str(name, max_length=20))
        if value is None and form.str(name, max_length=20):
            form.add_error(name, "Choose from the list.")
        elif value is not None and session.get(model, value) is None:
            form.add_error(name, missing)
        links[name] = value
    amounts: dict[str, int] = {}
    for name, parse in (("hours", parse_hours), ("payment", parse_pence), ("expenses", parse_pence)):
        try:
            amounts[name] = parse(form.str(name, max_length=40))
        except ValueError as exc:
            form.add_error(name, str(exc))
            amounts[name] = 0
    recognition = (
        form.choice("recognition", [r.value for r in m.Recognition], label="Recognition")
        or m.Recognition.ACKNOWLEDGED.value
    )
    note = form.str("note", max_length=5000, label="Note")
    member = session.get(m.NetworkMember, links["member_id"]) if links["member_id"] and not form.errors else None
    if not person_name and member is not None:
        person_name = member.name
    anonymous = recognition == m.Recognition.ANONYMOUS.value
    if not (person_name or links["member_id"] or links["organisation_id"] or anonymous):
        form.add_error(
            "person_name",
            "Say who took part: a name, a network member or a group. If they chose to stay anonymous, choose "
            "“Anonymous, by choice”.",
        )
    if not form.ok or took_part_on is None:
        return None, form.errors
    return (
        RecordInput(
            activity=activity,
            took_part_on=took_part_on,
            person_name=person_name,
            member_id=links["member_id"],
            opportunity_id=links["opportunity_id"],
            consultation_request_id=links["consultation_request_id"],
            organisation_id=links["organisation_id"],
            partnership_id=links["partnership_id"],
            minutes=amounts["hours"],
            payment_pence=amounts["payment"],
            expenses_pence=amounts["expenses"],
            recognition=m.Recognition(recognition),
            note=note,
        ),
        {},
    )


def checked(session: Session, data: Mapping[str, Any], *, today: dt.date) -> RecordInput:
    """``validate`` for a service call: the input, or ``FieldErrors`` with every message (the form shows them)."""
    result, errors = validate(session, data, today=today)
    if result is None:
        raise FieldErrors(errors)
    return result


def form_data(rec: m.InvolvementRecord) -> dict[str, str]:
    """A stored record as the form shows it for editing."""

    def ref(value: int | None) -> str:
        return "" if value is None else str(value)

    return {
        "activity": rec.activity,
        "took_part_on": rec.took_part_on.isoformat(),
        "person_name": rec.person_name,
        "member_id": ref(rec.member_id),
        "opportunity_id": ref(rec.opportunity_id),
        "consultation_request_id": ref(rec.consultation_request_id),
        "organisation_id": ref(rec.organisation_id),
        "partnership_id": ref(rec.partnership_id),
        "hours": hours_input(rec.minutes),
        "payment": money_input(rec.payment_pence) if rec.payment_pence else "",
        "expenses": money_input(rec.expenses_pence) if rec.expenses_pence else "",
        "recognition": rec.recognition.value,
        "note": rec.note,
    }


def _apply(rec: m.InvolvementRecord, data: RecordInput) -> None:
    for field in dataclasses.fields(RecordInput):
        setattr(rec, field.name, getattr(data, field.name))


def _touch_member(session: Session, data: RecordInput) -> None:
    """The member took part: their inactivity (what the retention job measures) starts again from that day."""
    if data.member_id is None:
        return
    member = session.get(m.NetworkMember, data.member_id)
    when = dt.datetime.combine(data.took_part_on, dt.time(12), dt.UTC)
    if member is not None and (member.last_involved_at is None or member.last_involved_at < when):
        member.last_involved_at = when


def create(session: Session, actor: Principal | None, data: RecordInput) -> m.InvolvementRecord:
    rec = m.InvolvementRecord(created_by_user_id=actor.id if actor and actor.id > 0 else None)
    _apply(rec, data)
    session.add(rec)
    session.flush()
    _touch_member(session, data)
    # The audit entry names the activity, never the person (the record itself holds the name, privately).
    audit(session, actor, "created", "involvement_record", rec.id, summary=f"Record of involvement: {data.activity}")
    return rec


def update(session: Session, actor: Principal | None, rec: m.InvolvementRecord, data: RecordInput) -> None:
    _apply(rec, data)
    session.flush()
    _touch_member(session, data)
    audit(session, actor, "updated", "involvement_record", rec.id, summary=f"Record of involvement: {data.activity}")


def delete(session: Session, actor: Principal | None, rec: m.InvolvementRecord) -> None:
    audit(session, actor, "deleted", "involvement_record", rec.id, summary=f"Record of involvement: {rec.activity}")
    session.delete(rec)
    session.flush()


# --- the list, its totals and its CSV --------------------------------------------------------------------------

Org, P, Opp, Mem, Req = m.Organisation, m.Partnership, m.InvolvementOpportunity, m.NetworkMember, m.ConsultationRequest


def _columns() -> tuple[Any, ...]:
    return (
        R.id,
        R.activity,
        R.took_part_on,
        R.person_name,
        R.minutes,
        R.payment_pence,
        R.expenses_pence,
        R.recognition,
        R.note,
        R.organisation_id,
        Org.name.label("organisation"),
        R.partnership_id,
        P.title.label("partnership"),
        R.opportunity_id,
        Opp.title.label("opportunity"),
        R.member_id,
        Mem.name.label("member"),
        R.consultation_request_id,
        Req.title.label("consultation"),
    )


def _joined(query: Select[Any]) -> Select[Any]:
    return (
        query.outerjoin(Org, Org.id == R.organisation_id)
        .outerjoin(P, P.id == R.partnership_id)
        .outerjoin(Opp, Opp.id == R.opportunity_id)
        .outerjoin(Mem, Mem.id == R.member_id)
        .outerjoin(Req, Req.id == R.consultation_request_id)
    )


def _date(raw: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(raw))
    except ValueError:
        return None


def _filtered(query: Select[Any], params: ListParams) -> tuple[Select[Any], dict[str, str]]:
    """The list's filters (bad values are ignored with a message, never an error page) and its search."""
    problems: dict[str, str] = {}
    f = params.filters
    if (value := f.get("recognition")) in {r.value for r in m.Recognition}:
        query = query.where(R.recognition == value)
    for name, column in (
        ("organisation", R.organisation_id),
        ("partnership", R.partnership_id),
        ("opportunity", R.opportunity_id),
        ("member", R.member_id),
        ("consultation", R.consultation_request_id),
    ):
        if (value := f.get(name)) is not None:
            if (row_id := record_id(value)) is not None:
                query = query.where(column == row_id)
            else:
                problems[name] = "Choose from the list."
    for name, compare in (("from", lambda d: R.took_part_on >= d), ("to", lambda d: R.took_part_on <= d)):
        if (raw := f.get(name)) is not None:
            if (day := _date(raw)) is None:
                problems[name] = "Enter a date like 2026-01-31."
            else:
                query = query.where(compare(day))
    if params.q:
        like = f"%{params.q.lower()}%"
        query = query.where(
            or_(func.lower(R.activity).like(like), func.lower(R.person_name).like(like), func.lower(R.note).like(like))
        )
    return query, problems


def admin_list(session: Session, params: ListParams) -> tuple[Page, dict[str, str]]:
    """One page of records with what they link to (one statement) and the matching count (one more)."""
    query, problems = _filtered(_joined(select(*_columns())), params)
    return fetch_page(session, query, params, SORTS, id_column=R.id, count=True), problems


@dataclasses.dataclass(frozen=True)
class Totals:
    records: int
    minutes: int
    payment_pence: int
    expenses_pence: int


def totals(session: Session, params: ListParams) -> Totals:
    """Hours, payments and expenses of every record the filters match (one statement)."""
    query, _ = _filtered(
        _joined(
            select(
                func.count(R.id),
                func.coalesce(func.sum(R.minutes), 0),
                func.coalesce(func.sum(R.payment_pence), 0),
                func.coalesce(func.sum(R.expenses_pence), 0),
            ).select_from(R)
        ),
        params,
    )
    row = session.execute(query).one()
    return Totals(*(int(v or 0) for v in row))


CSV_LIMIT = 50_000
CSV_HEADER = [
    "id",
    "date",
    "activity",
    "person",
    "network_member",
    "organisation",
    "partnership",
    "opportunity",
    "consultation",
    "hours",
    "minutes",
    "payment_gbp",
    "expenses_gbp",
    "recognition",
    "note",
]


def csv_rows(session: Session, params: ListParams) -> list[list[Any]]:
    """Every record the filters match, oldest first, as CSV rows (one statement)."""
    query, _ = _filtered(_joined(select(*_columns())), params)
    rows = session.execute(query.order_by(R.took_part_on, R.id).limit(CSV_LIMIT))
    return [
        [
            r.id,
            r.took_part_on.isoformat(),
            r.activity,
            r.person_name,
            r.member or "",
            r.organisation or "",
            r.partnership or "",
            r.opportunity or "",
            r.consultation or "",
            f"{r.minutes / 60:.2f}",
            r.minutes,
            f"{r.payment_pence / 100:.2f}",
            f"{r.expenses_pence / 100:.2f}",
            r.recognition.label,
            r.note,
        ]
        for r in rows
    ]


def csv_text(session: Session, params: ListParams) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    writer.writerows(csv_rows(session, params))
    return buffer.getvalue()


def choices(session: Session, *, filtering: bool = False) -> dict[str, list[tuple[int, str]]]:
    """What the form offers to link a record to, or (``filtering``) what the list's filters offer: there the
    organisations are only those with records, so a directory of thousands never fills the filter bar. Five short
    statements."""
    orgs = select(Org.id, Org.name).where(Org.archived_at.is_(None))
    if filtering:
        orgs = select(Org.id, Org.name).where(
            Org.id.in_(select(R.organisation_id).where(R.organisation_id.is_not(None)))
        )
    return {
        "members": [(i, n) for i, n in session.execute(select(Mem.id, Mem.name).order_by(Mem.name, Mem.id))],
        "opportunities": [
            (i, t) for i, t in session.execute(select(Opp.id, Opp.title).order_by(Opp.created_at.desc(), Opp.id))
        ],
        "consultations": [
            (i, t) for i, t in session.execute(select(Req.id, Req.title).order_by(Req.created_at.desc(), Req.id))
        ],
        "organisations": [(i, n) for i, n in session.execute(orgs.order_by(Org.name, Org.id))],
        "partnerships": [(i, t) for i, t in session.execute(select(P.id, P.title).order_by(P.title))],
    }


# --- what other pages show -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class OwnerRecords:
    """An organisation's or a partnership's records: the latest ones, the totals, and the words for amounts."""

    rows: list[Any]
    totals: Totals

    @staticmethod
    def hours(minutes: int) -> str:
        return hours_label(minutes)

    @staticmethod
    def money(pence: int) -> str:
        return money_label(pence)


def for_owner(
    session: Session, *, organisation_id: int | None = None, partnership_id: int | None = None
) -> OwnerRecords:
    """The latest records of an organisation or a partnership, and their totals (two statements)."""
    column = R.organisation_id if organisation_id is not None else R.partnership_id
    owner = organisation_id if organisation_id is not None else partnership_id
    rows = list(
        session.execute(
            _joined(select(*_columns())).where(column == owner).order_by(R.took_part_on.desc(), R.id.desc()).limit(20)
        )
    )
    total = session.execute(
        select(
            func.count(R.id),
            func.coalesce(func.sum(R.minutes), 0),
            func.coalesce(func.sum(R.payment_pence), 0),
            func.coalesce(func.sum(R.expenses_pence), 0),
        ).where(column == owner)
    ).one()
    return OwnerRecords(rows=rows, totals=Totals(*(int(v or 0) for v in total)))


def today(now: dt.datetime) -> dt.date:
    return london_today(now)
