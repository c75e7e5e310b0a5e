"""The timeline of a contact or an organisation: everything that happened with them, newest first, in one list.

Why one statement per page: each source (emails, consent, invitations, answers, attendance, internship interest,
partnership activity, audit entries, notes, tasks) is a small indexed select of the same eight columns, each limited
to a page and a row beyond; their UNION ALL is ordered by ``(occurred_at, kind, id)`` and limited again. The
cursor is that triple, so the next page is "everything before it" in each source, and page 100 costs what page 1
does. What a page shows beyond those columns (delivery events, audit changes in words, a task's owner) is read
afterwards with one statement per kind of detail for the whole page, so the statement count does not grow with
the page's length.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from crm import models as m
from crm.history import describe, linked_names
from crm.models.base import UTCDateTime
from crm.timeline import wording

PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


@dataclasses.dataclass(frozen=True, slots=True)
class Owner:
    """Whose timeline: a contact (``contact_id``) or an organisation (``organisation_id``)."""

    contact_id: int | None = None
    organisation_id: int | None = None
    contact_email: str | None = None

    @property
    def entity(self) -> str:
        return "contact" if self.contact_id is not None else "organisation"

    @property
    def entity_id(self) -> int:
        return self.contact_id if self.contact_id is not None else self.organisation_id  # type: ignore[return-value]


@dataclasses.dataclass(slots=True)
class Item:
    at: dt.datetime
    kind: str
    id: int
    action: str
    label: str  # "Email sent", "Answered yes", ...
    title: str
    detail: str
    who: str
    link_id: int | None
    lines: list[str] = dataclasses.field(default_factory=list)  # delivery reports, changes in words
    task: Any = None  # the task's row (due date, owner, done) for task items


@dataclasses.dataclass(slots=True)
class TimelinePage:
    items: list[Item]
    next_cursor: str | None
    prev_cursor: str | None
    kinds: tuple[str, ...]


def _at(expr: Any) -> ColumnElement[Any]:
    return type_coerce(expr, UTCDateTime())


def _text(expr: Any) -> ColumnElement[Any]:
    return cast(expr, String)


def _columns(
    at: Any, kind: str, row_id: Any, action: Any, title: Any, detail: Any, who: Any, link_id: Any
) -> list[ColumnElement[Any]]:
    return [
        _at(at).label("at"),
        literal(kind, String).label("kind"),
        row_id.label("id"),
        _text(action).label("action"),
        _text(title).label("title"),
        _text(detail).label("detail"),
        _text(who).label("who"),
        cast(link_id, Integer).label("link_id"),
    ]


def _contact_ids(owner: Owner) -> Any:
    if owner.contact_id is not None:
        return [owner.contact_id]
    return select(m.Affiliation.contact_id).where(m.Affiliation.organisation_id == owner.organisation_id)


def _emails(owner: Owner) -> Any:
    if owner.contact_id is not None:
        return [owner.contact_email] if owner.contact_email else []
    return (
        select(m.Contact.email)
        .join(m.Affiliation, m.Affiliation.contact_id == m.Contact.id)
        .where(m.Affiliation.organisation_id == owner.organisation_id, m.Contact.email.is_not(None))
    )


# Each source: (its columns, its time expression, its id column) for an owner.
Source = Callable[[Owner], tuple[Select[Any], Any, Any]]


def _emails_source(owner: Owner) -> tuple[Select[Any], Any, Any]:
    """Every email to the owner's addresses; a campaign's email links to the campaign's report and is titled with
    the campaign's subject until the dispatcher stores the one it sent (its outbox row has no subject before)."""
    o, r, c = m.OutboxMessage, m.CampaignRecipient, m.Campaign
    at = func.coalesce(o.sent_at, o.created_at)
    who = func.coalesce(func.nullif(o.recipient_name, ""), o.recipient)
    title = func.coalesce(func.nullif(o.subject, ""), c.subject, "")
    cols = _columns(at, "email", o.id, o.status, title, o.delivery_status, who, r.campaign_id)
    query = (
        select(*cols)
        .outerjoin(r, r.outbox_id == o.id)
        .outerjoin(c, c.id == r.campaign_id)
        .where(o.recipient.in_(_emails(owner)))
    )
    return query, at, o.id


def _consent_source(owner: Owner) -> tuple[Select[Any], Any, Any]:
    c = m.ConsentEntry
    cols = _columns(c.created_at, "consent", c.id, c.action, c.mechanism, c.actor, c.email, c.subscription_id)
    return select(*cols).where(c.email.in_(_emails(owner))), c.created_at, c.id


def _invitations_source(owner: Owner) -> tuple[Select[Any], Any, Any]:
    i = m.Invitation
    # ``invited_at`` is set when the invitation goes out (an audience member not yet sent one has none).
    cols = _columns(i.invited_at, "invitation", i.id, i.status, m.Event.title, i.source, m.Contact.name, m.Event.id)
    query = (
        select(*cols)
        .join(m.Event, m.Event.id == i.event_id)
        .join(m.Contact, m.Contact.id == i.contact_id)
        .where(i.contact_id.in_(_contact_ids(owner)), i.invited_at.is_not(None))
    )
    return query, i.invited_at, i.id


def _answers_source(owner: Owner) -> tuple[Select[Any], Any, Any]:
    r, i = m.RsvpResponse, m.Invitation
    cols = _columns(r.at, "rsvp", r.id, r.answer, m.Event.title, r.result, m.Contact.name, m.Event.id)
    query = (
        select(*cols)
        .join(i, i.id == r.invitation_id)
        .join(m.Event, m.Event.id == i.event_id)
        .join(m.Contact, m.Contact.id == i.contact_id)
        .where(i.contact_id.in_(_contact_ids(owner)))
    )
    return query, r.at, r.id


def _attendance_source(owner: Owner) -> tuple[Select[Any], Any, Any]:
    i, e = m.Invitation, m.Event
    came = case((i.attended.is_(True), "yes"), else_="no")
    cols = _columns(e.ends_at, "attendance", i.id, came, e.title, "", m.Contact.name, e.id)
    query = (
        select(*cols)
        .join(e, e.id == i.event_id)
        .join(m.Contact, m.Contact.id == i.contact_id)
        .where(i.contact_id.in_(_contact_ids(owner)), i.attended.is_not(None))
    )
    return query, e.ends_at, i.id


def _internships_source(owner: Owner) -> tuple[Select[Any], Any, Any]:
    ii, job = m.InternshipInterest, m.Internship
    cols = _columns(ii.created_at, "internship", ii.id, "", job.title, ii.note, ii.name, job.id)
    query = select(*cols).join(job, job.id == ii.internship_id)
    if owner.contact_id is not None:
        query = query.where(ii.email.in_(_emails(owner)))
    else:
        query = query.where(job.host_organisation_id == owner.organisation_id)
    return query, ii.created_at, ii.id


def _partnerships_source(owner: Owner) -> tuple[Select[Any], Any, Any]:
    a, p, pm = m.PartnershipActivity, m.Partnership, m.PartnershipMember
    member = (
        pm.contact_id == owner.contact_id
        if owner.contact_id is not None
        else (pm.organisation_id == owner.organisation_id)
    )
    cols = _columns(a.occurred_at, "partnership", a.id, a.kind, p.title, a.summary, a.recorded_by, p.id)
    query = (
        select(*cols)
        .join(p, p.id == a.partnership_id)
        .where(a.partnership_id.in_(select(pm.partnership_id).where(member)))
    )
    return query, a.occurred_at, a.id


def _involvement_source(owner: Owner) -> tuple[Select[Any], Any, Any]:
    """Records of involvement: an organisation's (a group that took part, or the person took part through it); a
    contact's when they took part as a member of the lived experience network under their address."""
    r = m.InvolvementRecord
    cols = _columns(r.created_at, "involvement", r.id, r.recognition, r.activity, "", r.person_name, r.id)
    query = select(*cols)
    if owner.contact_id is not None:
        members = select(m.NetworkMember.id).where(m.NetworkMember.email.in_(_emails(owner)))
        return query.where(r.member_id.in_(members)), r.created_at, r.id
    return query.where(r.organisation_id == owner.organisation_id), r.created_at, r.id


def _edits_source(owner: Owner) -> tuple[Select[Any], Any, Any]:
    e = m.AuditEntry
    cols = _columns(e.at, "edit", e.id, e.action, e.summary, "", e.actor, null())
    return select(*cols).where(e.entity == owner.entity, e.entity_id == owner.entity_id), e.at, e.id


def _owned(model: Any, owner: Owner) -> Any:
    if owner.contact_id is not None:
        return model.contact_id == owner.contact_id
    return model.organisation_id == owner.organisation_id


def _notes_source(owner: Owner) -> tuple[Select[Any], Any, Any]:
    n = m.TimelineNote
    cols = _columns(n.created_at, "note", n.id, "", n.body, "", n.author, null())
    return select(*cols).where(_owned(n, owner)), n.created_at, n.id


def _tasks_source(owner: Owner) -> tuple[Select[Any], Any, Any]:
    t = m.TimelineTask
    state = case((t.done_at.is_not(None), "done"), else_="open")
    cols = _columns(t.created_at, "task", t.id, state, t.title, t.details, t.created_by, null())
    return select(*cols).where(_owned(t, owner)), t.created_at, t.id


SOURCES: dict[str, Source] = {
    "email": _emails_source,
    "consent": _consent_source,
    "invitation": _invitations_source,
    "rsvp": _answers_source,
    "attendance": _attendance_source,
    "internship": _internships_source,
    "partnership": _partnerships_source,
    "involvement": _involvement_source,
    "edit": _edits_source,
    "note": _notes_source,
    "task": _tasks_source,
}
assert set(SOURCES) == set(wording.KINDS)


def encode_cursor(direction: str, at: dt.datetime, kind: str, row_id: int) -> str:
    raw = json.dumps([direction, at.isoformat(), kind, row_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, dt.datetime, str, int] | None:
    """A tampered or stale cursor is no cursor (the first page), never an error."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        direction, at, kind, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        moment = dt.datetime.fromisoformat(at)
        if direction not in {"next", "prev"} or kind not in SOURCES or not isinstance(row_id, int):
            return None
        return direction, moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC), kind, row_id
    except (ValueError, TypeError):
        return None


def _beyond(kind: str, at: Any, row_id: Any, cursor: tuple[str, dt.datetime, str, int]) -> Any:
    """Rows of source ``kind`` beyond the cursor ``(at, kind, id)`` in the walking direction.

    A source's kind is a constant, so comparing it with the cursor's kind happens here in Python: each source keeps
    a plain "time before (or at)" condition its own index can seek."""
    direction, when, cursor_kind, cursor_id = cursor
    value = literal(when, UTCDateTime())
    older = direction == "next"  # the list runs newest first: next walks towards older rows
    strictly = at < value if older else at > value
    if kind == cursor_kind:
        return or_(strictly, and_(at == value, row_id < cursor_id if older else row_id > cursor_id))
    if (kind < cursor_kind) == older:  # this kind sorts after the cursor's at the same time
        return at <= value if older else at >= value
    return strictly


def timeline(
    session: Session, owner: Owner, *, kinds: Sequence[str] = (), cursor: str = "", page_size: int = PAGE_SIZE
) -> TimelinePage:
    """One page of the owner's timeline, newest first; ``kinds`` keeps only those sources (all when empty)."""
    chosen = tuple(k for k in SOURCES if k in kinds) or tuple(SOURCES)
    size = max(1, min(MAX_PAGE_SIZE, page_size))
    decoded = decode_cursor(cursor) if cursor else None
    backwards = bool(decoded and decoded[0] == "prev")
    branches = []
    for kind in chosen:
        query, at, row_id = SOURCES[kind](owner)
        if decoded:
            query = query.where(_beyond(kind, _at(at), row_id, decoded))
        order = (_at(at).asc(), row_id.asc()) if backwards else (_at(at).desc(), row_id.desc())
        branches.append(select(query.order_by(*order).limit(size + 1).subquery()))
    both = union_all(*branches).subquery()
    order = [both.c.at, both.c.kind, both.c.id]
    stmt = select(both).order_by(*(c.asc() if backwards else c.desc() for c in order)).limit(size + 1)
    rows = list(session.execute(stmt))
    has_more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    items = [
        Item(
            r.at,
            r.kind,
            r.id,
            r.action or "",
            wording.label(r.kind, r.action or "", r.detail or ""),
            r.title or "",
            r.detail or "",
            r.who or "",
            r.link_id,
        )
        for r in rows
    ]
    _add_details(session, items)
    next_cursor = prev_cursor = None
    if items:
        first, last = items[0], items[-1]
        if (has_more and not backwards) or (backwards and decoded):
            next_cursor = encode_cursor("next", last.at, last.kind, last.id)
        if (decoded and not backwards) or (backwards and has_more):
            prev_cursor = encode_cursor("prev", first.at, first.kind, first.id)
    return TimelinePage(items=items, next_cursor=next_cursor, prev_cursor=prev_cursor, kinds=chosen)


def _add_details(session: Session, items: list[Item]) -> None:
    """What a page shows beyond its eight columns: one statement per kind of detail for the whole page."""
    by_kind: dict[str, dict[int, Item]] = {}
    for item in items:
        by_kind.setdefault(item.kind, {})[item.id] = item
    if emails := by_kind.get("email"):
        events = session.execute(
            select(m.DeliveryEvent.outbox_id, m.DeliveryEvent.event, m.DeliveryEvent.bounce_type)
            .where(m.DeliveryEvent.outbox_id.in_(list(emails)))
            .order_by(m.DeliveryEvent.outbox_id, m.DeliveryEvent.id)
        )
        reported: dict[int, list[str]] = {}
        for outbox_id, event, bounce_type in events:
            word = wording.delivery(event, bounce_type)
            if word and word not in reported.setdefault(outbox_id, []):
                reported[outbox_id].append(word)
        for outbox_id, item in emails.items():
            item.lines = reported.get(outbox_id) or ([wording.delivery(item.detail, "")] if item.detail else [])
            item.lines = [line for line in item.lines if line]
    if edits := by_kind.get("edit"):
        query = select(m.AuditEntry.id, m.AuditEntry.changes).where(m.AuditEntry.id.in_(list(edits)))
        changes = {entry_id: change for entry_id, change in session.execute(query)}
        names = linked_names(session, (c or {} for c in changes.values()))
        for entry_id, item in edits.items():
            item.lines = describe(changes.get(entry_id) or {}, names)
    if involvement := by_kind.get("involvement"):
        r = m.InvolvementRecord
        query = select(r.id, r.took_part_on, r.minutes, r.payment_pence, r.expenses_pence, r.recognition)
        for row in session.execute(query.where(r.id.in_(list(involvement)))):
            item = involvement[row.id]
            item.lines = wording.involvement(item.who, row)
    if tasks := by_kind.get("task"):
        t = m.TimelineTask
        rows = session.execute(
            select(
                t.id,
                t.due_date,
                t.done_at,
                t.done_by,
                t.owner_id,
                m.User.name.label("owner_name"),
                m.User.email.label("owner_email"),
            )
            .outerjoin(m.User, m.User.id == t.owner_id)
            .where(t.id.in_(list(tasks)))
        )
        for row in rows:
            tasks[row.id].task = row
